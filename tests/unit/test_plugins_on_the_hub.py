"""Plugins on the whole hub core (`build_hub`, memory stores, a MockTransport upstream), both eras:
the three built-ins, refusals as the client sees them, usage and audit, and `/mcp/{server}` untouched."""

from __future__ import annotations

import itertools
import json
import sys
import time
import types
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from functions._deps import Hub, build_hub
from shared.http import HttpIn
from shared.mcp.versions import CLIENT_CAPABILITIES_META_KEY, PROTOCOL_VERSION_META_KEY
from shared.usage.report import usage_report
from tests.unit.test_hub_pipeline import config

pytestmark = pytest.mark.anyio
MODERN = "2026-07-28"
SECRET = "ghp_" + "A1b2C3d4E5" * 4  # a GitHub token's shape
LONG = "word " * 5000  # 25,000 characters: redaction must not cut it
TOOLS = [
    {
        "name": "create_issue",
        "inputSchema": {
            "type": "object",
            "properties": {"title": {"type": "string", "minLength": 3}, "labels": {"type": "array"}},
            "required": ["title"],
            "additionalProperties": False,
        },
    },
    {"name": "leak", "inputSchema": {"type": "object"}},
    {"name": "stream_leak", "inputSchema": {"type": "object"}},
    {"name": "run_sql", "inputSchema": {"type": "object", "properties": {"query": {"type": "string"}}}},
    {"name": "delete_repo", "inputSchema": {"type": "object"}},
]


class Upstream:
    """A handshake-era server: records the calls that reach it; some answers carry secrets."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.ids = itertools.count(1)

    def handle(self, request: httpx.Request) -> httpx.Response:
        body: dict[str, Any] = json.loads(request.content) if request.content else {}
        if request.method != "POST" or "id" not in body or "method" not in body:
            return httpx.Response(202 if request.method == "POST" else 405)
        method, params = body["method"], body.get("params") or {}
        if method == "initialize":
            result = {"protocolVersion": "2025-11-25", "capabilities": {"tools": {}, "prompts": {}, "resources": {}}}
            return _json(body["id"], {**result, "serverInfo": {"name": "up", "version": "1"}}, f"s{next(self.ids)}")
        if method == "tools/list":
            return _json(body["id"], {"tools": TOOLS})
        if method == "prompts/list":
            return _json(body["id"], {"prompts": [{"name": "greet"}]})
        if method == "prompts/get":
            message = {"role": "user", "content": {"type": "text", "text": "write to ada@example.com"}}
            return _json(body["id"], {"messages": [message]})
        if method == "resources/read":
            return _json(body["id"], {"contents": [{"uri": params["uri"], "text": f"token={SECRET}"}]})
        if method != "tools/call":
            return _json(body["id"], {})
        self.calls.append(params)
        name = params["name"]
        if name == "leak":
            text = f"your token is {SECRET}, mail ada@example.com. {LONG}"
            structured = {"owner": {"email": "ada@example.com", "keys": [SECRET, 42]}}
            return _json(body["id"], {"content": [{"type": "text", "text": text}], "structuredContent": structured})
        if name == "stream_leak":
            progress = {
                "jsonrpc": "2.0",
                "method": "notifications/progress",
                "params": {"progressToken": 1, "progress": 1},
            }
            answer = {"jsonrpc": "2.0", "id": body["id"], "result": {"content": [{"type": "text", "text": SECRET}]}}
            events = "".join(f"event: message\ndata: {json.dumps(m)}\n\n" for m in (progress, answer))
            return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=events.encode())
        return _json(body["id"], {"content": [{"type": "text", "text": "done"}]})


def _json(request_id: Any, result: Any, session: str | None = None) -> httpx.Response:
    headers = {"mcp-session-id": session} if session else None
    return httpx.Response(200, json={"jsonrpc": "2.0", "id": request_id, "result": result}, headers=headers)


PLUGINS = {
    "MCPHUB_PLUGIN_SCHEMA__MODULE": "schema",
    "MCPHUB_PLUGIN_SCHEMA__PRIORITY": "10",
    "MCPHUB_PLUGIN_DENY__MODULE": "deny",
    "MCPHUB_PLUGIN_DENY__PRIORITY": "20",
    "MCPHUB_PLUGIN_DENY__CONFIG__DROP__TOOL": "run_sql",
    "MCPHUB_PLUGIN_DENY__CONFIG__DROP__PATTERN": r"(?i)\bdrop\s+table\b",
    "MCPHUB_PLUGIN_DENY__CONFIG__NODELETE__TOOL": "delete_*",
    "MCPHUB_PLUGIN_PII__MODULE": "redact",
}


def hub_with(upstream: Upstream, plugins: dict[str, str]) -> Hub:
    return build_hub(config(plugins=plugins), transport=httpx.MockTransport(upstream.handle))


@pytest.fixture
def upstream() -> Upstream:
    return Upstream()


@pytest.fixture
async def hub(upstream: Upstream) -> AsyncIterator[Hub]:
    built = hub_with(upstream, PLUGINS)
    try:
        yield built
    finally:
        await built.aclose()


class Client:
    def __init__(self, hub: Hub, *, modern: bool, route: str = "") -> None:
        self.hub, self.modern, self.route = hub, modern, route
        self.session: str | None = None
        self.ids = itertools.count(1)

    async def post(self, method: str, params: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        params = dict(params or {})
        head = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
        if self.modern:
            params["_meta"] = {PROTOCOL_VERSION_META_KEY: MODERN, CLIENT_CAPABILITIES_META_KEY: {}}
            head |= {"mcp-protocol-version": MODERN, "mcp-method": method}
            if "name" in params or "uri" in params:
                head["mcp-name"] = str(params.get("name") or params.get("uri"))
        elif method != "initialize":
            if self.session is None:
                init = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t"}}
                await self.post("initialize", init)
            head |= {"mcp-session-id": str(self.session), "mcp-protocol-version": "2025-11-25"}
        body = {"jsonrpc": "2.0", "id": next(self.ids), "method": method, "params": params}
        out = await self.hub.service.handle(HttpIn("POST", head, json.dumps(body).encode(), route=self.route))
        if method == "initialize":
            self.session = out.headers.get("Mcp-Session-Id")
        raw = out.body if out.stream is None else b"".join([chunk async for chunk in out.stream])
        text = raw.decode()
        if text.startswith(("event:", "data:")):
            text = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")][-1]
        return out.status, json.loads(text)

    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        name = tool if self.route else f"up__{tool}"
        status, body = await self.post("tools/call", {"name": name, "arguments": arguments})
        assert status == 200, body
        return body["result"]


ERAS = pytest.mark.parametrize("modern", [False, True], ids=["2025-11-25", "2026-07-28"])


@ERAS
async def test_arguments_that_do_not_fit_the_schema_never_reach_the_upstream(
    hub: Hub, upstream: Upstream, modern: bool
) -> None:
    client = Client(hub, modern=modern)
    refused = await client.call("create_issue", {"title": "no", "extra": 1})
    assert refused["isError"] is True
    if modern:  # a result like any other: framed as the era frames results
        assert refused["resultType"] == "complete"
    assert refused["_meta"]["io.mcphub/plugin"] == "schema"
    text = refused["content"][0]["text"]
    assert "arguments.title must be at least 3 characters" in text
    assert "arguments.extra is not a parameter of this tool" in text
    assert (await client.call("create_issue", {})).get("isError") is True
    assert upstream.calls == []
    assert (await client.call("create_issue", {"title": "A real bug"}))["content"][0]["text"] == "done"
    assert [c["arguments"] for c in upstream.calls] == [{"title": "A real bug"}]


@ERAS
async def test_the_deny_list_refuses_matching_arguments_and_hides_denied_tools(
    hub: Hub, upstream: Upstream, modern: bool
) -> None:
    client = Client(hub, modern=modern)
    status, listed = await client.post("tools/list")
    assert status == 200
    names = {t["name"] for t in listed["result"]["tools"]}
    assert "up__delete_repo" not in names
    assert {"up__run_sql", "up__create_issue"} <= names
    refused = await client.call("run_sql", {"query": "select 1; DROP  TABLE users"})
    assert refused["isError"] is True
    assert "arguments.query of 'run_sql'" in refused["content"][0]["text"]
    assert "rule 'drop'" in refused["content"][0]["text"]
    _, body = await client.post("tools/call", {"name": "up__delete_repo", "arguments": {}})
    assert body["result"]["isError"] is True  # the name still resolves upstream-side, but is refused
    assert upstream.calls == []
    assert (await client.call("run_sql", {"query": "select * from drops"}))["content"][0]["text"] == "done"


@ERAS
async def test_secrets_and_personal_data_are_redacted_from_results_without_cutting_them(hub: Hub, modern: bool) -> None:
    client = Client(hub, modern=modern)
    result = await client.call("leak", {})
    text = result["content"][0]["text"]
    assert SECRET not in text
    assert "ada@example.com" not in text
    assert text.startswith("your token is [redacted:github_token], mail [redacted:email]. word word")
    assert text.endswith(LONG)  # nothing cut
    assert result["structuredContent"] == {
        "owner": {"email": "[redacted:email]", "keys": ["[redacted:github_token]", 42]}
    }


@ERAS
async def test_a_streamed_answer_is_redacted_and_the_notifications_before_it_still_arrive(
    hub: Hub, modern: bool
) -> None:
    result = await Client(hub, modern=modern).call("stream_leak", {})
    assert result["content"][0]["text"] == "[redacted:github_token]"


@ERAS
async def test_prompts_and_resources_are_redacted_too(hub: Hub, modern: bool) -> None:
    client = Client(hub, modern=modern)
    _, prompt = await client.post("prompts/get", {"name": "up__greet"})
    assert prompt["result"]["messages"][0]["content"]["text"] == "write to [redacted:email]"
    _, read = await client.post("resources/read", {"uri": "mcphub://up/file:///a"})
    assert read["result"]["contents"][0]["text"] == "token=[redacted:password]"


@ERAS
async def test_the_transparent_route_runs_no_plugin(hub: Hub, upstream: Upstream, modern: bool) -> None:
    client = Client(hub, modern=modern, route="up")
    assert SECRET in (await client.call("leak", {}))["content"][0]["text"]
    await client.call("create_issue", {"title": "no"})
    assert [c["name"] for c in upstream.calls] == ["leak", "create_issue"]


async def test_every_refusal_is_counted_per_plugin_in_usage_and_audited(hub: Hub) -> None:
    client = Client(hub, modern=False)
    await client.call("create_issue", {})
    await client.call("create_issue", {"title": 5})
    await client.call("run_sql", {"query": "drop table x"})
    await client.call("leak", {})
    now = time.time()
    await hub.ops.usage.flush()
    report = await usage_report(hub.ops.usage_store, now - 3600, now)
    by_plugin = {row["key"]: row for row in report["byPlugin"]}
    assert (by_plugin["schema"]["refused"], by_plugin["deny"]["refused"], by_plugin["pii"]["modified"]) == (2, 1, 1)
    up = next(row for row in report["byServer"] if row["key"] == "up")
    assert up["outcomes"]["refused"] == 3
    assert up["errors"] == 0  # the hub's policy at work, not a failing upstream
    await hub.ops.audit.flush()
    hour = int(now // 3600)
    refusals = await hub.ops.audit.search(hour, hour, {"event": "plugin.refused"}, after=None, limit=10)
    assert sorted(r["detail"]["plugin"] for r in refusals) == ["deny", "schema", "schema"]
    assert {r["tool"] for r in refusals} == {"create_issue", "run_sql"}
    calls = await hub.ops.audit.search(hour, hour, {"event": "tool.call", "outcome": "refused"}, after=None, limit=10)
    assert len(calls) == 3


class Broken:
    async def after_tool_call(self, hook: Any) -> Any:
        raise ValueError(str(hook.payload))  # a bug that would put the result in the error message


def broken_factory(config: Any) -> Broken:
    return Broken()


@pytest.mark.parametrize("mode", ["enforce", "permissive"])
async def test_a_broken_plugin_never_takes_the_hub_down(upstream: Upstream, mode: str) -> None:
    plugins = {"MCPHUB_PLUGIN_BROKEN__MODULE": f"{__name__}:broken_factory", "MCPHUB_PLUGIN_BROKEN__MODE": mode}
    hub = hub_with(upstream, plugins)
    try:
        client = Client(hub, modern=False)
        for _ in range(3):
            result = await client.call("leak", {})
            if mode == "enforce":
                assert result["isError"] is True
                assert result["content"][0]["text"].startswith("the hub's plugin 'broken' raised ValueError")
                assert SECRET not in result["content"][0]["text"]
            else:
                assert SECRET in result["content"][0]["text"]  # passed on unchanged
        status, listed = await client.post("tools/list")
        assert status == 200
        assert listed["result"]["tools"]
    finally:
        await hub.aclose()


async def test_with_no_plugin_configured_the_call_path_is_unchanged(upstream: Upstream) -> None:
    hub = hub_with(upstream, {})
    try:
        assert hub.service.plugins.names == []
        result = await Client(hub, modern=False).call("leak", {})
        assert SECRET in result["content"][0]["text"]
    finally:
        await hub.aclose()


async def test_the_plugin_the_readme_shows_how_to_write_works_as_written(
    upstream: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    example = readme.split("**Writing one**", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    module = types.ModuleType("readme_plugin")
    exec(compile(example, "README.md", "exec"), module.__dict__)  # the project's own README, run as written
    monkeypatch.setitem(sys.modules, "readme_plugin", module)
    hub = hub_with(upstream, {"MCPHUB_PLUGIN_TICKETS__MODULE": "readme_plugin:factory"})
    try:
        client = Client(hub, modern=False)
        refused = await client.call("create_issue", {"title": "x"})
        assert refused["isError"] is True
        assert "reason must start with CHG-" in refused["content"][0]["text"]
        assert upstream.calls == []
    finally:
        await hub.aclose()
