"""The hub core in-process: `build_hub` with memory stores and MockTransport upstreams, driven with `HttpIn`.

The upstream here varies its tools by the capabilities its session was opened with, as the
reference server (server-everything) does: sampling and elicitation tools only for clients that
declare them.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest

from functions._deps import Hub, HubConfig, build_hub
from shared.http import HttpIn, HttpOut
from shared.hub.subscriptions import SUBSCRIPTION_ID_META_KEY as SUBSCRIPTION_ID
from shared.limits.rules import load_limits
from shared.mcp.versions import CLIENT_CAPABILITIES_META_KEY, PROTOCOL_VERSION_META_KEY
from shared.operations_settings import OperationsSettings
from shared.plugins.settings import load_plugin_settings
from shared.settings import AuthSettings, HubSettings, RoutingSettings, load_servers
from shared.tables import TableBacked

pytestmark = pytest.mark.anyio
MODERN = "2026-07-28"
PLAIN = {"echo"}
SAMPLING = {"echo", "sample_llm"}


class Upstream:
    """A handshake-era MCP server on MockTransport: a session per initialize, tools by capability."""

    def __init__(self, *, careless: bool = False) -> None:
        self.careless = careless  # lists its sampling tool to every client, like a server that forgot to check
        self.capabilities: dict[str, dict[str, Any]] = {}
        self.answers: list[dict[str, Any]] = []
        self.ids = itertools.count(1)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":  # the standalone stream: two list changes, then it ends
            changes = ("notifications/prompts/list_changed", "notifications/tools/list_changed")
            events = "".join(f'event: message\ndata: {{"jsonrpc":"2.0","method":"{m}"}}\n\n' for m in changes)
            return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=events.encode())
        if request.method != "POST":
            return httpx.Response(405)
        body: dict[str, Any] = json.loads(request.content)
        session = request.headers.get("mcp-session-id")
        if "method" not in body:
            self.answers.append(body)
            return httpx.Response(202)
        if "id" not in body:
            return httpx.Response(202)
        method, params = body["method"], body.get("params") or {}
        if method == "initialize":
            session = f"s{next(self.ids)}"
            self.capabilities[session] = params.get("capabilities") or {}
            result: dict[str, Any] = {
                "protocolVersion": "2025-11-25",
                "capabilities": {"tools": {}, "resources": {}},
                "serverInfo": {"name": "up", "version": "1"},
            }
            return _json(body["id"], result, {"mcp-session-id": session})
        caps = self.capabilities.get(session or "", {})
        if method == "tools/list":
            names = sorted(SAMPLING if "sampling" in caps or self.careless else PLAIN)
            return _json(body["id"], {"tools": [{"name": n, "inputSchema": {"type": "object"}} for n in names]})
        if method == "resources/read":
            uri = params["uri"]
            return _json(body["id"], {"contents": [{"uri": uri, "text": "hello"}]})
        if method == "tools/call" and params.get("name") == "sample_llm":
            # Asks the client's model first: a request on the call's stream.
            ask = {"jsonrpc": "2.0", "id": "ask-1", "method": "sampling/createMessage", "params": {"messages": []}}
            stream = f"event: message\ndata: {json.dumps(ask)}\n\n".encode()
            return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=stream)
        if method == "tools/call":
            return _json(body["id"], {"content": [{"type": "text", "text": "echoed"}]})
        return _json(body["id"], None, error={"code": -32601, "message": "no such method"})


def _json(
    request_id: Any, result: Any, headers: dict[str, str] | None = None, error: dict[str, Any] | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id}
    body.update({"error": error} if error else {"result": result})
    return httpx.Response(200, json=body, headers=headers)


@pytest.fixture
def upstream() -> Upstream:
    return Upstream()


def config(
    storage: str | None = None, plugins: Mapping[str, str] | None = None, settings: HubSettings | None = None
) -> HubConfig:
    """A hub in front of one upstream `up`, with the plugins set by the `plugins` variables."""
    env = {"MCPHUB_SERVER_UP__URL": "http://up.test/mcp", **(plugins or {})}
    servers = load_servers(env)
    return HubConfig(
        settings or HubSettings(),
        AuthSettings(mode="off"),
        servers,
        RoutingSettings(),
        OperationsSettings(),
        load_limits(env, servers),
        storage,
        load_plugin_settings(env, servers),
    )


@pytest.fixture
async def hub(upstream: Upstream) -> AsyncIterator[Hub]:
    built = build_hub(config(), transport=httpx.MockTransport(upstream.handle))
    try:
        yield built
    finally:
        await built.aclose()


async def read(out: HttpOut) -> dict[str, Any]:
    body = out.body
    if out.stream is not None:
        body = b"".join([chunk async for chunk in out.stream])
    text = body.decode()
    if text.startswith(("event:", "data:")):
        data = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]
        return json.loads(data[-1])
    return json.loads(text)


class Client:
    """A client of one era and capability set, talking to the hub core without HTTP."""

    def __init__(self, hub: Hub, capabilities: dict[str, Any], *, modern: bool = False) -> None:
        self.hub, self.capabilities, self.modern = hub, capabilities, modern
        self.session: str | None = None
        self.ids = itertools.count(1)

    async def post(self, method: str, params: dict[str, Any] | None = None, **headers: str) -> tuple[int, Any]:
        out = await self.open(method, params, **headers)
        return out.status, await read(out)

    async def open(self, method: str, params: dict[str, Any] | None = None, **headers: str) -> HttpOut:
        params = dict(params or {})
        head = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
        if self.modern:
            params["_meta"] = {PROTOCOL_VERSION_META_KEY: MODERN, CLIENT_CAPABILITIES_META_KEY: self.capabilities}
            head |= {"mcp-protocol-version": MODERN, "mcp-method": method}
            if "name" in params or "uri" in params:
                head["mcp-name"] = str(params.get("name") or params.get("uri"))
        elif method != "initialize":
            if self.session is None:
                await self.initialize()
            head |= {"mcp-session-id": str(self.session), "mcp-protocol-version": "2025-11-25"}
        head |= {k.replace("_", "-"): v for k, v in headers.items()}
        body = {"jsonrpc": "2.0", "id": next(self.ids), "method": method, "params": params}
        out = await self.hub.service.handle(HttpIn("POST", head, json.dumps(body).encode()))
        if method == "initialize":
            self.session = out.headers.get("Mcp-Session-Id")
        return out

    async def initialize(self) -> None:
        params = {"protocolVersion": "2025-11-25", "capabilities": self.capabilities, "clientInfo": {"name": "t"}}
        status, _ = await self.post("initialize", params)
        assert status == 200

    async def tools(self) -> set[str]:
        status, body = await self.post("tools/list")
        assert status == 200, body
        names = [t["name"] for t in body["result"]["tools"]]
        return {name.removeprefix("up__") for name in names if name.startswith("up__")}  # not the hub's own


CLIENTS = {
    "plain": ({}, False, PLAIN),
    "sampling": ({"sampling": {}}, False, SAMPLING),
    # 2026-07-28 has no back channel, but the hub bridges the upstream's requests (input_required)
    "stateless": ({"sampling": {}}, True, SAMPLING),
    "stateless-plain": ({}, True, PLAIN),
}


@pytest.mark.parametrize("order", list(itertools.permutations(CLIENTS)), ids="-".join)
async def test_tools_offered_depend_on_the_callers_capabilities_whoever_listed_first(
    hub: Hub, order: tuple[str, ...]
) -> None:
    for _ in range(2):  # the second round is served from the cache
        for name in order:
            capabilities, modern, expected = CLIENTS[name]
            assert await Client(hub, capabilities, modern=modern).tools() == expected, name


async def test_every_tool_a_client_is_offered_can_be_called(hub: Hub) -> None:
    plain = Client(hub, {})
    await Client(hub, {"sampling": {}}).tools()  # a sampling client lists first
    for tool in await plain.tools():
        status, body = await plain.post("tools/call", {"name": f"up__{tool}", "arguments": {}})
        assert status == 200
        assert "result" in body, (tool, body)


async def test_stateless_ping_is_a_removed_method_404(hub: Hub) -> None:
    status, body = await Client(hub, {}, modern=True).post("ping")
    assert (status, body["error"]["code"]) == (404, -32601)


async def test_handshake_ping_is_answered(hub: Hub) -> None:
    status, body = await Client(hub, {}).post("ping")
    assert (status, body["result"]) == (200, {})


async def test_stateless_discover_advertises_subscriptions_it_serves_on_listen(hub: Hub) -> None:
    client = Client(hub, {}, modern=True)
    status, body = await client.post("server/discover")
    capabilities = body["result"]["capabilities"]
    assert status == 200
    assert capabilities["resources"]["subscribe"] is True
    assert capabilities["tools"]["listChanged"] is True
    status, body = await client.post("resources/subscribe", {"uri": "mcphub://up/x"})
    assert (status, body["error"]["code"]) == (404, -32601)


async def test_listen_acknowledges_first_then_relays_only_what_was_asked_for(hub: Hub) -> None:
    client = Client(hub, {}, modern=True)
    params = {"notifications": {"toolsListChanged": True}}
    out = await client.open("subscriptions/listen", params)
    assert out.status == 200
    assert out.stream is not None
    events = sse_messages(out.stream)
    with anyio.fail_after(10):
        ack = await anext(events)
        change = await anext(events)
    await events.aclose()
    assert ack["method"] == "notifications/subscriptions/acknowledged"
    assert ack["params"]["notifications"] == {"toolsListChanged": True}
    assert ack["params"]["_meta"][SUBSCRIPTION_ID] == 1
    # The upstream sent a prompts change first: not asked for, so not relayed.
    assert change["method"] == "notifications/tools/list_changed"
    assert change["params"]["_meta"][SUBSCRIPTION_ID] == 1


async def test_listen_without_a_filter_is_invalid_params(hub: Hub) -> None:
    status, body = await Client(hub, {}, modern=True).post("subscriptions/listen", {})
    assert (status, body["error"]["code"]) == (400, -32602)


async def sse_messages(stream: AsyncIterator[bytes]) -> AsyncGenerator[dict[str, Any]]:
    buffer = b""
    async for chunk in stream:
        buffer += chunk
        while b"\n\n" in buffer:
            event, buffer = buffer.split(b"\n\n", 1)
            data = [line[5:].strip() for line in event.decode().splitlines() if line.startswith("data:")]
            if data:
                yield json.loads("".join(data))


async def test_stateless_resources_read_carries_cache_hints(hub: Hub) -> None:
    status, body = await Client(hub, {}, modern=True).post("resources/read", {"uri": "mcphub://up/file:///a"})
    assert status == 200, body
    result = body["result"]
    assert (result["cacheScope"], result["resultType"]) == ("private", "complete")
    assert isinstance(result["ttlMs"], int)
    assert result["contents"][0]["uri"] == "mcphub://up/file:///a"


async def test_stateless_call_needing_undeclared_sampling_gets_32021() -> None:
    upstream = Upstream(careless=True)
    hub = build_hub(config(), transport=httpx.MockTransport(upstream.handle))
    try:
        # The upstream asks for sampling whatever it was told: the hub must not let the call hang.
        client = Client(hub, {}, modern=True)
        status, body = await client.post("tools/call", {"name": "up__sample_llm", "arguments": {}})
        assert (status, body["error"]["code"]) == (400, -32021), body
        assert body["error"]["data"] == {"requiredCapabilities": {"sampling": {}}}
    finally:
        await hub.aclose()
    # and the upstream's request was refused, not left waiting
    assert [a["id"] for a in upstream.answers if "error" in a] == ["ask-1"]


async def test_stateless_name_header_with_surrounding_whitespace_is_accepted(hub: Hub) -> None:
    client = Client(hub, {}, modern=True)
    status, body = await client.post("tools/call", {"name": "up__echo", "arguments": {}}, mcp_name="  up__echo  ")
    assert status == 200, body
    assert body["result"]["content"][0]["text"] == "echoed"


async def test_stateless_name_header_that_differs_is_refused(hub: Hub) -> None:
    client = Client(hub, {}, modern=True)
    status, body = await client.post("tools/call", {"name": "up__echo", "arguments": {}}, mcp_name="up__other")
    assert (status, body["error"]["code"]) == (400, -32020)


async def test_aclose_closes_every_table_and_http_client_the_hub_opened() -> None:
    built = build_hub(config("UseDevelopmentStorage=true"), transport=httpx.MockTransport(Upstream().handle))
    opened = [type(item).__name__ for item in built.closing.opened]
    tables = {name for name in opened if name.startswith("Table")}
    assert tables >= {
        "TableSessionStore",
        "TableGrantStore",
        "TableBudgetStore",
        "TableAuditStore",
        "TableUsageStore",
        "TableSampleStore",
    }
    assert "MockTransport" in opened
    reachable = [built.store, built.sample_store, built.identity.grants, built.ops.budgets]
    assert all(item in built.closing.opened for item in reachable if isinstance(item, TableBacked))
    await built.closing.aclose()
    assert built.closing.opened == ()


async def test_concurrent_stateless_requests_of_one_user_share_one_upstream_session() -> None:
    upstream = Upstream()

    async def interleaved(request: httpx.Request) -> httpx.Response:
        await anyio.lowlevel.checkpoint()  # lets the other requests run while this one is on the wire
        return upstream.handle(request)

    hub = build_hub(config(), transport=httpx.MockTransport(interleaved))
    try:
        client = Client(hub, {}, modern=True)
        async with anyio.create_task_group() as group:
            for _ in range(8):
                group.start_soon(client.post, "tools/call", {"name": "up__echo", "arguments": {}})
    finally:
        await hub.aclose()
    assert len(upstream.capabilities) == 1  # one initialize: every request used the same pooled session
