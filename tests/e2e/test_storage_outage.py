"""A frozen or dead session store gets a fast, clear answer, never a hang.

The hub's own Azurite is frozen (SIGSTOP: connections accepted, nothing answered, the nastiest case)
and then killed. Every request that needs storage is answered within the storage deadline (here
1.5 s) with 503, Retry-After and an error naming the table; the client's timeout (10 s) would turn
a hang into a failure. The one exception is by design: a new session is written behind its
`initialize` answer, so the first one after the freeze is answered 200, and the ones after it, once
that insert has hung past a healthy store's latency, get the 503. Audit records written while the
store is frozen are kept and land after it thaws.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra.processes import Child, Processes, azurite_connection_string
from tests.e2e.clients import audit_items, signed_in_hub
from tests.e2e.test_sign_in_lifecycle import sign_in
from tests.redirect_corpus import REGISTERED
from tests.wire import HEADERS, INIT

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]
DEADLINE = 1.5
LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
CALL = {
    "jsonrpc": "2.0",
    "id": 3,
    "method": "tools/call",
    "params": {"name": "notes__echo", "arguments": {"text": "x"}},
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    directory = Path(tmp_path_factory.mktemp("outage"))
    store = Processes(directory / "store")
    azurite = store.azurite()
    env = {
        "AzureWebJobsStorage": azurite_connection_string(azurite.port),
        "MCPHUB_STORAGE_TIMEOUT_SECONDS": str(DEADLINE),
        "MCPHUB_AUDIT_FLUSH_SECONDS": "0.2",
        "MCPHUB_LIMIT_OUTAGE__REQUESTS": "1000",
        "MCPHUB_LIMIT_OUTAGE__ROLE": "Hub.Limited",
    }
    try:
        with signed_in_hub(directory, "hub-outage", env, facade=True, upstreams=("notes",), instances=2) as w:
            w["azurite"] = azurite
            yield w
    finally:
        store.stop_all()


def mcp(token: str, session: str | None = None) -> dict[str, str]:
    extra = {"Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"} if session else {}
    return {**HEADERS, "Authorization": f"Bearer {token}", **extra}


def assert_fast_503(reply: httpx.Response, started: float) -> None:
    assert reply.status_code == 503, reply.text
    assert int(reply.headers["retry-after"]) > 0
    assert time.monotonic() - started < DEADLINE * 4  # the deadline, not the SDK's minutes of retries


async def test_a_frozen_store_gets_fast_clear_answers_and_the_audit_trail_catches_up(world: dict[str, Any]) -> None:
    hub_a, hub_b = world["hubs"]
    azurite: Child = world["azurite"]
    authority = world["authority"]
    user, limited = (
        authority.mint(tenant="tenant-a", user="una"),
        authority.mint(tenant="tenant-a", user="lim", roles=("Hub.User", "Hub.Limited")),
    )
    admin = authority.mint(tenant="tenant-a", user="adm", roles=("Hub.User", "Hub.Admin"))
    # Before the outage: a session on A, a signed-in IDE (for refresh) and a registered client.
    async with httpx.AsyncClient(timeout=10) as http:
        opened = await http.post(f"{hub_a.url}/mcp", json=INIT, headers=mcp(user))
        session = opened.headers["mcp-session-id"]
        lim = (await http.post(f"{hub_a.url}/mcp", json=INIT, headers=mcp(limited))).headers["mcp-session-id"]
        registered = await http.post(f"{hub_a.url}/oauth/register", json={"redirect_uris": [REGISTERED]})
        client_id = registered.json()["client_id"]
    signed = sign_in(world, "rhea@tenant-a")

    azurite.process.send_signal(signal.SIGSTOP)
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            # The first new session is answered before its row is written (write-behind); once its
            # insert has been pending longer than a healthy store takes, A writes new sessions
            # before answering again, and so gives the fast, clear 503.
            optimistic = await http.post(f"{hub_a.url}/mcp", json=INIT, headers=mcp(user))
            assert optimistic.status_code == 200, optimistic.text
            deadline = time.monotonic() + DEADLINE
            while True:
                started = time.monotonic()
                reply = await http.post(f"{hub_a.url}/mcp", json=INIT, headers=mcp(user))
                if reply.status_code != 200 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)  # poll: A has not yet seen its insert hang
            assert_fast_503(reply, started)
            assert reply.json()["error"]["data"]["store"] == "mcphubsessions"

            started = time.monotonic()  # the first call on B of a session A created: B must load it
            assert_fast_503(await http.post(f"{hub_b.url}/mcp", json=LIST, headers=mcp(user, session)), started)

            started = time.monotonic()  # a new user's first call needs a rate-limit budget from storage
            assert_fast_503(await http.post(f"{hub_a.url}/mcp", json=CALL, headers=mcp(limited, lim)), started)

            started = time.monotonic()
            assert_fast_503(await http.delete(f"{hub_b.url}/mcp", headers=mcp(user, session)), started)

            started = time.monotonic()  # sign-in: the client is looked up in the grant store
            query = {"response_type": "code", "client_id": client_id, "redirect_uri": REGISTERED}
            reply = await http.get(f"{hub_b.url}/oauth/authorize", params=query)
            assert_fast_503(reply, started)
            assert reply.json()["error"] == "temporarily_unavailable"

            started = time.monotonic()
            form = {
                "grant_type": "refresh_token",
                "refresh_token": signed["refresh_token"],
                "client_id": signed["client_id"],
            }
            assert_fast_503(await http.post(f"{hub_b.url}/oauth/token", data=form), started)

            # The operator API reads the same store: a fast 503 naming it too, as its document says.
            for path in ("/ops/usage", "/ops/audit", "/ops/servers", "/ops/advice"):
                started = time.monotonic()
                reply = await http.get(f"{hub_a.url}{path}", headers={"Authorization": f"Bearer {admin}"})
                assert_fast_503(reply, started)
                assert reply.json()["error"] == "temporarily_unavailable", path
                assert reply.json()["store"], path

            # Audited while frozen: an Origin refusal (no storage needed to refuse it).
            evil = {**mcp(user), "Origin": "https://frozen.example"}
            assert (await http.post(f"{hub_a.url}/mcp", json=INIT, headers=evil)).status_code == 403
    finally:
        azurite.process.send_signal(signal.SIGCONT)

    # Thawed: the same session goes on, and the audit record made during the outage was kept.
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.post(f"{hub_a.url}/mcp", json=LIST, headers=mcp(user, session))).status_code == 200
    items = await audit_items(hub_a.url, admin, "request.origin_refused")
    assert any(i["detail"].get("origin") == "https://frozen.example" for i in items)


async def test_a_dead_store_gets_fast_clear_answers(world: dict[str, Any]) -> None:
    hub_a, _ = world["hubs"]
    azurite: Child = world["azurite"]
    user = world["authority"].mint(tenant="tenant-a", user="vic")
    azurite.process.kill()
    azurite.process.wait(10)
    async with httpx.AsyncClient(timeout=10) as http:
        started = time.monotonic()
        assert_fast_503(await http.post(f"{hub_a.url}/mcp", json=INIT, headers=mcp(user)), started)
        started = time.monotonic()
        body = {"redirect_uris": [REGISTERED]}
        assert_fast_503(await http.post(f"{hub_a.url}/oauth/register", json=body), started)
        health = await http.get(f"{hub_a.url}/health")
        assert health.status_code == 503
