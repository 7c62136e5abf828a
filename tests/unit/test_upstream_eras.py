"""Which era an upstream speaks: asked with server/discover through the raw path, remembered for a while."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from shared.hub.upstream_eras import ERA_TTL_SECONDS, EraProbe
from shared.settings import ServerSettings
from shared.upstreams.breaker import CircuitBreaker
from shared.upstreams.client import HttpUpstreamClient

pytestmark = pytest.mark.anyio
SERVER = ServerSettings.model_validate({"name": "up", "url": "http://upstream.test/mcp"})
DISCOVERED = {"jsonrpc": "2.0", "id": 1, "result": {"supportedVersions": ["2025-11-25", "2026-07-28"]}}


class World:
    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]) -> None:
        self.now = 0.0
        self.seen: list[httpx.Request] = []
        self.breaker = CircuitBreaker(failures=1, reset_seconds=30, clock=lambda: self.now)

        def handler(request: httpx.Request) -> httpx.Response:
            self.seen.append(request)
            return answer(request)

        client = HttpUpstreamClient(httpx.MockTransport(handler), breakers={"up": self.breaker})
        self.probe = EraProbe(client, {"name": "mcphub", "version": "1"}, clock=lambda: self.now)

    async def ask(self) -> bool:
        async def credentials() -> dict[str, str]:
            return {"Authorization": "Bearer hub-token"}

        return await self.probe.speaks_stateless(SERVER, credentials)


async def test_a_server_listing_2026_07_28_speaks_it_and_is_asked_once_per_ttl() -> None:
    world = World(lambda request: httpx.Response(200, json=DISCOVERED))
    assert await world.ask()
    assert await world.ask()
    assert len(world.seen) == 1
    sent = world.seen[0]
    assert (sent.headers["mcp-method"], sent.headers["mcp-protocol-version"]) == ("server/discover", "2026-07-28")
    assert json.loads(sent.content)["method"] == "server/discover"
    world.now += ERA_TTL_SECONDS
    await world.ask()
    assert len(world.seen) == 2


async def test_a_discover_answer_sent_as_an_event_counts_too() -> None:
    event = f"event: message\ndata: {json.dumps(DISCOVERED)}\n\n".encode()
    world = World(lambda request: httpx.Response(200, content=event, headers={"content-type": "text/event-stream"}))
    assert await world.ask()


@pytest.mark.parametrize("status", [400, 404, 405])
async def test_a_handshake_only_server_refusing_discover_is_no_failure_of_the_server(status: int) -> None:
    answer = {"jsonrpc": "2.0", "id": None, "error": {"code": -32000, "message": "Bad Request: no session"}}
    world = World(lambda request: httpx.Response(status, json=answer))
    assert not await world.ask()
    world.breaker.before_call("up")  # still closed: one failure would have opened it


async def test_an_unreachable_server_counts_as_handshake_until_asked_again() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    world = World(refuse)
    assert not await world.ask()
    assert not await world.ask()
    assert len(world.seen) == 1
