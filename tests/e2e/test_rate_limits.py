"""Rate limits across two hub instances on one Azurite: the bound holds for the deployment, each user
keeps their own budget, and a refused call says which limit and when to retry."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp.shared.exceptions import MCPError

from infra.processes import Child
from tests.e2e.clients import client_for, signed_in_hub
from tests.wire import HEADERS, INIT

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]
LIMIT = 30


@pytest.fixture(scope="module")
def two_instances(tmp_path_factory: pytest.TempPathFactory, storage_connection_string: str) -> Iterator[dict[str, Any]]:
    env = {
        "AzureWebJobsStorage": storage_connection_string,
        "MCPHUB_LIMITS_TABLE": "limitstwoinstances",
        "MCPHUB_LIMIT_PERUSER__REQUESTS": str(LIMIT),
        # A day-long window: the test cannot straddle two windows (and so see twice the budget).
        "MCPHUB_LIMIT_PERUSER__SECONDS": "86400",
        "MCPHUB_LIMIT_CLOCK__PER": "all",
        "MCPHUB_LIMIT_CLOCK__SERVER": "clock",
        "MCPHUB_LIMIT_CLOCK__REQUESTS": "3",
        "MCPHUB_LIMIT_CLOCK__SECONDS": "86400",
    }
    with signed_in_hub(
        Path(tmp_path_factory.mktemp("limits")), "hub-limits", env, upstreams=("notes", "clock"), instances=2
    ) as world:
        yield world


async def open_session(http: httpx.AsyncClient, hub: Child) -> str:
    reply = await http.post(f"{hub.url}/mcp", json=INIT, headers=HEADERS)
    assert reply.status_code == 200, reply.text
    return reply.headers["mcp-session-id"]


async def flood(hubs: list[Child], token: str, counts: dict[str, list[httpx.Response]]) -> None:
    """Call a tool through both instances, five at a time, until both refuse in the same round."""
    ids = itertools.count(100)
    async with httpx.AsyncClient(headers={**HEADERS, "Authorization": f"Bearer {token}"}, timeout=30) as http:
        session = await open_session(http, hubs[0])
        headers = {"mcp-session-id": session, "mcp-protocol-version": "2025-11-25"}
        for _ in range(40):
            round_replies: list[httpx.Response] = []

            async def call(hub: Child, replies: list[httpx.Response] = round_replies) -> None:
                body = {
                    "jsonrpc": "2.0",
                    "id": next(ids),
                    "method": "tools/call",
                    "params": {"name": "notes__echo", "arguments": {"text": "hi"}},
                }
                replies.append(await http.post(f"{hub.url}/mcp", json=body, headers=headers))

            async with anyio.create_task_group() as group:
                for hub in [*hubs, *hubs, hubs[0]]:
                    group.start_soon(call, hub)
            for reply in round_replies:
                counts[reply.request.url.netloc.decode()].append(reply)
            if all(r.status_code == 429 for r in round_replies):
                return
    raise AssertionError("the hubs never refused")


async def test_two_instances_together_admit_each_user_exactly_their_limit(two_instances: dict[str, Any]) -> None:
    hubs: list[Child] = two_instances["hubs"]
    authority = two_instances["authority"]
    alice = authority.mint(tenant="tenant-a", user="alice-limits")
    bob = authority.mint(tenant="tenant-a", user="bob-limits")
    replies: dict[str, dict[str, list[httpx.Response]]] = {
        user: {f"127.0.0.1:{hub.port}": [] for hub in hubs} for user in ("alice", "bob")
    }
    async with anyio.create_task_group() as group:
        group.start_soon(flood, hubs, alice, replies["alice"])
        group.start_soon(flood, hubs, bob, replies["bob"])
    for user, per_hub in replies.items():
        admitted = {hub: sum(r.status_code == 200 for r in rs) for hub, rs in per_hub.items()}
        assert sum(admitted.values()) == LIMIT, (user, admitted)
        assert all(count > 0 for count in admitted.values()), f"one instance served all of {user}'s calls"
    refused = [r for per_hub in replies.values() for rs in per_hub.values() for r in rs if r.status_code == 429]
    for reply in refused:
        assert int(reply.headers["retry-after"]) > 0
        error = reply.json()["error"]
        assert error["code"] == -32029
        assert error["data"]["limit"] == "peruser"
        assert reply.json()["id"] == json.loads(reply.request.content)["id"]


async def test_an_sdk_client_past_a_shared_server_limit_gets_an_error_naming_it(two_instances: dict[str, Any]) -> None:
    hubs: list[Child] = two_instances["hubs"]
    token = two_instances["authority"].mint(tenant="tenant-a", user="carol-limits")
    outcomes: list[str] = []
    for n in range(5):
        async with client_for(f"{hubs[n % 2].url}/mcp", token) as client:
            try:
                await client.call_tool("clock__now", {})
                outcomes.append("ok")
            except MCPError as error:
                outcomes.append("limited" if "rate limit 'clock' reached" in str(error) else str(error))
    assert outcomes == ["ok", "ok", "ok", "limited", "limited"]
    # A stateless (2026-07-28) client is held to the same shared budget.
    async with client_for(f"{hubs[0].url}/mcp", token, mode="2026-07-28") as client:
        with pytest.raises(MCPError, match="rate limit 'clock' reached"):
            await client.call_tool("clock__now", {})
