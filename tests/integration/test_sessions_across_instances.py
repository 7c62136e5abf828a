"""A new session on real Table Storage (Azurite), across two hub instances.

The instance that answers `initialize` writes the session's row behind its answer
(`MCPHUB_SESSION_WRITE_BEHIND_SECONDS`); the client's next request may reach the other instance
before that row lands, and must be served all the same.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from functions._deps import Hub, build_hub
from shared.http import HttpIn
from shared.sessions.ids import SessionIds
from shared.settings import HubSettings
from tests.unit.test_hub_pipeline import config

pytestmark = pytest.mark.anyio

HEAD = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
INIT = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}


def _refuse(request: httpx.Request) -> httpx.Response:
    return httpx.Response(503)  # no upstream is needed: these requests are the hub's own


@pytest.fixture
async def hubs(storage_connection_string: str) -> AsyncIterator[list[Hub]]:
    settings = HubSettings(hub_tools=False, session_write_behind_seconds=2.0)
    built = [
        build_hub(config(storage_connection_string, settings=settings), transport=httpx.MockTransport(_refuse))
        for _ in range(2)
    ]
    try:
        yield built
    finally:
        for hub in built:
            await hub.aclose()


async def post(hub: Hub, message: dict[str, Any], session: str | None = None) -> tuple[int, dict[str, str], bytes]:
    headers = dict(HEAD)
    if session:
        headers |= {"mcp-session-id": session, "mcp-protocol-version": "2025-11-25"}
    out = await hub.service.handle(HttpIn("POST", headers, json.dumps(message).encode()))
    body = out.body if out.stream is None else b"".join([chunk async for chunk in out.stream])
    return out.status, out.headers, body


async def test_a_session_initialized_on_one_instance_is_served_at_once_by_the_other(hubs: list[Hub]) -> None:
    first, second = hubs
    for attempt in range(5):
        status, headers, _ = await post(first, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INIT})
        assert status == 200
        session = headers["Mcp-Session-Id"]
        # Straight to the other instance, while the first may still be writing the row.
        initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        assert (await post(second, initialized, session))[0] == 202
        status, _, body = await post(second, {"jsonrpc": "2.0", "id": 2 + attempt, "method": "ping"}, session)
        assert status == 200, body
        assert json.loads(body)["result"] == {}


async def test_a_session_id_the_hub_never_issued_is_refused_with_404_on_either_instance(hubs: list[Hub]) -> None:
    forged = SessionIds(b"not the hub key" * 2).issue(time.time())
    for hub in hubs:
        status, _, body = await post(hub, {"jsonrpc": "2.0", "id": 1, "method": "ping"}, forged)
        assert status == 404, body


async def test_a_session_ended_on_the_other_instance_right_after_initialize_stays_ended(hubs: list[Hub]) -> None:
    first, second = hubs
    _, headers, _ = await post(first, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INIT})
    session = headers["Mcp-Session-Id"]
    ended = await second.service.handle(
        HttpIn("DELETE", {**HEAD, "mcp-session-id": session, "mcp-protocol-version": "2025-11-25"})
    )
    assert ended.status in (200, 204)
    await first.sessions.drain()  # the first instance's insert has landed (or had landed before)
    third = await post(second, {"jsonrpc": "2.0", "id": 2, "method": "ping"}, session)
    assert third[0] == 404
