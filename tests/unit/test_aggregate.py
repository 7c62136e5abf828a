"""Aggregation: names and URIs map back to the right upstream; operator filters hold on calls too."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from shared.errors import InvalidParams
from shared.hub.aggregate import Aggregator
from shared.hub.upstream_sessions import SessionContext, UpstreamSessions
from shared.mcp.jsonrpc import Notification, Request, Response
from shared.sessions.cache import SessionCache
from shared.sessions.memory import MemorySessionStore
from shared.sessions.model import SessionRecord
from shared.settings import load_servers
from shared.upstreams.catalog import Catalog
from shared.upstreams.client import HttpUpstreamClient

pytestmark = pytest.mark.anyio
LONG = "x" * 80


def upstream(tools: list[str]) -> httpx.MockTransport:
    """An upstream that answers initialize and tools/list, in JSON."""

    def handler(request: httpx.Request) -> httpx.Response:
        body: dict[str, Any] = httpx.Response(200, content=request.content).json()
        if "id" not in body:
            return httpx.Response(202)
        result: dict[str, Any] = {"tools": [{"name": t, "inputSchema": {"type": "object"}} for t in tools]}
        if body["method"] == "initialize":
            result = {"protocolVersion": "2025-11-25", "capabilities": {}, "serverInfo": {"name": "u", "version": "1"}}
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": body["id"], "result": result})

    return httpx.MockTransport(handler)


@pytest.fixture
def aggregator() -> Aggregator:
    servers = load_servers(
        {
            "MCPHUB_SERVER_GH__URL": "http://gh.test/mcp",
            "MCPHUB_SERVER_GH__TOOLS_EXCLUDE": "delete_*",
            "MCPHUB_SERVER_DOCS__URL": "http://docs.test/mcp",
        }
    )
    transports = {"gh.test": upstream(["search", "delete_repo", "odd.name"]), "docs.test": upstream([LONG])}

    async def route(request: httpx.Request) -> httpx.Response:
        return await transports[request.url.host].handle_async_request(request)

    http = httpx.MockTransport(route)
    sessions = SessionCache(MemorySessionStore(), clock=lambda: 0.0, ttl_seconds=60, touch_seconds=60, max_entries=10)
    upstreams = UpstreamSessions(HttpUpstreamClient(http), sessions)
    return Aggregator(servers, upstreams, Catalog(ttl_seconds=60, clock=lambda: 0.0), fanout_deadline=5)


async def context() -> SessionContext:
    return SessionContext(SessionRecord("s", "", "alice", "2025-11-25"), persistent=False)


async def test_list_namespaces_names_and_applies_operator_filters(aggregator: Aggregator) -> None:
    listed = await aggregator.list(await context(), "tools/list")
    names = [tool["name"] for tool in listed["tools"]]
    assert "gh__search" in names
    assert not any("delete_repo" in name for name in names)
    assert all(len(name) <= 64 for name in names)
    assert {tool["_meta"]["io.mcphub/server"] for tool in listed["tools"]} == {"gh", "docs"}


async def test_altered_names_route_back_to_the_original_tool(aggregator: Aggregator) -> None:
    ctx = await context()
    listed = await aggregator.list(ctx, "tools/list")
    exposed = {t["name"] for t in listed["tools"]} - {"gh__search"}
    routed = {}
    for name in exposed:
        server, request, _ = await aggregator.route(ctx, Request(1, "tools/call", {"name": name}))
        routed[server.name] = request.params["name"]
    assert routed == {"gh": "odd.name", "docs": LONG}


async def test_excluded_tool_cannot_be_called_by_guessing_its_name(aggregator: Aggregator) -> None:
    with pytest.raises(InvalidParams, match="gh__delete_repo"):
        await aggregator.route(await context(), Request(1, "tools/call", {"name": "gh__delete_repo"}))


async def test_resource_uris_are_rewritten_both_ways(aggregator: Aggregator) -> None:
    server, request, _ = await aggregator.route(
        await context(), Request(1, "resources/read", {"uri": "mcphub://docs/file:///readme.md"})
    )
    assert (server.name, request.params["uri"]) == ("docs", "file:///readme.md")
    answer = aggregator.outbound(server, Response(1, {"contents": [{"uri": "file:///readme.md", "text": "hi"}]}))
    assert isinstance(answer, Response)
    assert answer.result is not None
    assert answer.result["contents"][0]["uri"] == "mcphub://docs/file:///readme.md"
    updated = aggregator.outbound(server, Notification("notifications/resources/updated", {"uri": "file:///a"}))
    assert isinstance(updated, Notification)
    assert updated.params["uri"] == "mcphub://docs/file:///a"


async def test_unknown_server_in_a_resource_uri_is_invalid_params(aggregator: Aggregator) -> None:
    with pytest.raises(InvalidParams, match="mcphub://"):
        await aggregator.route(await context(), Request(1, "resources/read", {"uri": "mcphub://nope/x"}))
