"""Hostile identifiers and headers, over HTTP against a signed-in hub on Azurite.

A session ID the hub never issued is answered 404 at once (no storage access: the store contract
tests hold that), and such requests are audited, counted in health samples and spend the caller's
rate limit; another user's session is audited as such. The registration limit keys on an address
the caller cannot choose: X-Forwarded-For is not believed, and X-Azure-ClientIP only with this hub's
Front Door ID.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from infra.processes import Child
from shared.health.samples import TableSampleStore
from tests.e2e.clients import audit_items, signed_in_hub
from tests.wire import HEADERS, INIT

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]
FRONT_DOOR_ID = "7f3c2a1e-0000-4000-8000-000000000001"
MALFORMED = ["a/b", "../../x", "x#y", "x?y", "%2e%2e", "A" * 42, "A" * 44, "A" * 4000, "ab cd", "'; drop"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, storage_connection_string: str) -> Iterator[dict[str, Any]]:
    env = {
        "AzureWebJobsStorage": storage_connection_string,
        "MCPHUB_AUDIT_TABLE": "audithostile",
        "MCPHUB_HEALTH_TABLE": "healthhostile",
        "MCPHUB_LIMITS_TABLE": "limitshostile",
        "MCPHUB_AUDIT_FLUSH_SECONDS": "0.2",
        "MCPHUB_HEALTH_FLUSH_SECONDS": "0.2",
        "MCPHUB_AUTH__REGISTRATIONS_PER_HOUR": "3",
        "MCPHUB_FRONT_DOOR_ID": FRONT_DOOR_ID,
        "MCPHUB_LIMIT_PROBE__REQUESTS": "30",
        "MCPHUB_LIMIT_PROBE__SECONDS": "3600",
        "MCPHUB_LIMIT_PROBE__ROLE": "Hub.Prober",
    }
    directory = Path(tmp_path_factory.mktemp("hostile"))
    with signed_in_hub(directory, "hub-hostile", env, facade=True, upstreams=("notes",)) as w:
        authority = w["authority"]
        w["admin"] = authority.mint(tenant="tenant-a", user="admin-h", roles=("Hub.User", "Hub.Admin"))
        w["alice"] = authority.mint(tenant="tenant-a", user="alice-h")
        w["mallory"] = authority.mint(tenant="tenant-a", user="mallory-h")
        w["prober"] = authority.mint(tenant="tenant-a", user="prober-h", roles=("Hub.User", "Hub.Prober"))
        w["connection"] = storage_connection_string
        yield w


def _headers(token: str, session: str | None = None) -> dict[str, str]:
    extra = {"Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"} if session is not None else {}
    return {**HEADERS, "Authorization": f"Bearer {token}", **extra}


LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}


async def _audit_events(world: dict[str, Any], event: str, user: str) -> list[dict[str, Any]]:
    return await audit_items(world["hub"].url, world["admin"], event, user=user)


@pytest.mark.parametrize("session", MALFORMED, ids=range(len(MALFORMED)))
async def test_a_malformed_session_id_gets_404_with_the_session_error(world: dict[str, Any], session: str) -> None:
    async with httpx.AsyncClient(base_url=world["hub"].url, timeout=10) as http:
        for method in ("POST", "GET", "DELETE"):
            body = LIST if method == "POST" else None
            reply = await http.request(method, "/mcp", json=body, headers=_headers(world["alice"], session))
            assert reply.status_code == 404, (method, reply.text)
            if method == "POST":
                assert reply.json()["error"]["code"] == -32001


async def test_malformed_session_ids_are_audited_and_counted_in_health_samples(world: dict[str, Any]) -> None:
    started = time.time()
    async with httpx.AsyncClient(base_url=world["hub"].url, timeout=10) as http:
        reply = await http.post("/mcp", json=LIST, headers=_headers(world["mallory"], "x/../../y"))
    assert reply.status_code == 404
    records = await _audit_events(world, "session.malformed_id", "tenant-a:mallory-h")
    assert records[0]["user"] == "tenant-a:mallory-h"
    store = TableSampleStore.from_connection_string(world["connection"], "healthhostile")
    try:
        with anyio.fail_after(20):
            while True:
                samples = await store.window(started - 60, time.time() + 60)
                refused = [s for s in samples if s.scope == "refused:session"]
                if refused:
                    break
                await anyio.sleep(0.2)
    finally:
        await store.close()
    assert sum(s.count for s in refused) >= 1


async def test_malformed_session_ids_spend_the_callers_rate_limit(world: dict[str, Any]) -> None:
    statuses: list[int] = []
    async with httpx.AsyncClient(base_url=world["hub"].url, timeout=10) as http:
        for n in range(40):
            reply = await http.post("/mcp", json=LIST, headers=_headers(world["prober"], f"bad/{n}"))
            statuses.append(reply.status_code)
    assert statuses[:30] == [404] * 30
    assert set(statuses[30:]) == {429}


async def test_another_users_session_is_not_found_and_the_attempt_is_audited(world: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=world["hub"].url, timeout=10) as http:
        opened = await http.post("/mcp", json=INIT, headers=_headers(world["alice"]))
        session = opened.headers["mcp-session-id"]
        stolen = await http.post("/mcp", json=LIST, headers=_headers(world["mallory"], session))
        unknown = await http.post("/mcp", json=LIST, headers=_headers(world["mallory"], "A" * 43))
    assert (stolen.status_code, stolen.json()["error"]) == (unknown.status_code, unknown.json()["error"])
    records = await _audit_events(world, "session.foreign", "tenant-a:mallory-h")
    assert records[0]["user"] == "tenant-a:mallory-h"


def _register(hub: Child, headers: dict[str, str]) -> int:
    body = {"redirect_uris": ["http://127.0.0.1:1/cb"], "client_name": "x"}
    return httpx.post(f"{hub.url}/oauth/register", json=body, headers=headers).status_code


def test_the_registration_limit_ignores_forwarded_addresses_and_believes_only_this_front_door(
    world: dict[str, Any],
) -> None:
    hub: Child = world["hub"]
    # Each "new" X-Forwarded-For would have been a fresh bucket; the socket peer is one caller.
    forged = [_register(hub, {"X-Forwarded-For": f"203.0.113.{n}"}) for n in range(5)]
    assert forged[:3] == [201, 201, 201]
    assert forged[3:] == [429, 429]
    # A wrong Front Door ID does not make X-Azure-ClientIP believed: still the peer's spent bucket.
    wrong = {"X-Azure-FDID": "00000000-0000-0000-0000-000000000000", "X-Azure-ClientIP": "198.51.100.7"}
    assert _register(hub, wrong) == 429
    # This hub's Front Door: each client address is its own bucket.
    ours = {"X-Azure-FDID": FRONT_DOOR_ID, "X-Azure-ClientIP": "198.51.100.7"}
    assert [_register(hub, ours) for _ in range(4)] == [201, 201, 201, 429]
    assert _register(hub, {**ours, "X-Azure-ClientIP": "198.51.100.8"}) == 201


async def test_a_refused_origin_is_audited(world: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=world["hub"].url, timeout=10) as http:
        headers = {**_headers(world["alice"]), "Origin": "https://evil.example"}
        refused = await http.post("/mcp", json=INIT, headers=headers)
    assert refused.status_code == 403
    items = await audit_items(world["hub"].url, world["admin"], "request.origin_refused")
    assert items[0]["detail"]["origin"] == "https://evil.example"
