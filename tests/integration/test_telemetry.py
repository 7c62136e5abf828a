"""Traces and metrics of the hub, in process with an in-memory exporter: client → hub → upstream is
one trace, the upstream call span carries server, tool and outcome, and the upstream receives that
span's context in `traceparent`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from infra.funchost.host import LocalFunctionsHost
from infra.processes import AUTH_OFF
from tests.wire import HEADERS, INIT

pytestmark = [pytest.mark.anyio, pytest.mark.integration]
CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{CLIENT_TRACE}-00f067aa0ba902b7-01"


@pytest.fixture(scope="module")
def exporters() -> tuple[InMemorySpanExporter, InMemoryMetricReader]:
    spans, reader = InMemorySpanExporter(), InMemoryMetricReader()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    return spans, reader


@pytest.fixture
async def recording_upstream() -> AsyncIterator[dict[str, Any]]:
    """A minimal MCP upstream that answers in JSON and keeps the headers of every request."""
    seen: list[dict[str, str]] = []

    async def mcp(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        message = await request.json()
        if "id" not in message:
            return web.Response(status=202)
        if message["method"] == "initialize":
            result: dict[str, Any] = {
                "protocolVersion": "2025-11-25",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "rec", "version": "1"},
            }
        elif message["method"] == "tools/list":
            result = {"tools": [{"name": n, "inputSchema": {"type": "object"}} for n in ("echo", "broken")]}
        else:
            broken = message["params"]["name"] == "broken"
            result = {"content": [{"type": "text", "text": "x"}], "isError": broken}
        body = json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result})
        return web.Response(text=body, content_type="application/json", headers={"Mcp-Session-Id": "up-1"})

    app = web.Application()
    app.router.add_post("/mcp", mcp)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # aiohttp keeps the socket here
    yield {"url": f"http://127.0.0.1:{port}/mcp", "seen": seen}
    await runner.cleanup()


@pytest.fixture
async def in_process_hub(
    recording_upstream: dict[str, Any], monkeypatch: pytest.MonkeyPatch, functions_host: LocalFunctionsHost
) -> AsyncIterator[LocalFunctionsHost]:
    from functions._deps import hub

    for name in ("AzureWebJobsStorage", "MCPHUB_STORAGE_CONNECTION_STRING", "APPLICATIONINSIGHTS_CONNECTION_STRING"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {**AUTH_OFF, "MCPHUB_SERVER_REC__URL": recording_upstream["url"]}.items():
        monkeypatch.setenv(name, value)
    hub.cache_clear()
    yield functions_host
    await hub().aclose()
    hub.cache_clear()


async def call(host: LocalFunctionsHost, tool: str) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=host), base_url="http://hub") as http:
        opened = await http.post("/mcp", json=INIT, headers={**HEADERS, "traceparent": TRACEPARENT})
        session = {"mcp-session-id": opened.headers["mcp-session-id"], "traceparent": TRACEPARENT}
        body = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": f"rec__{tool}", "arguments": {}}}
        reply = await http.post("/mcp", json=body, headers={**HEADERS, **session})
        assert reply.status_code == 200, reply.text


def named(spans: tuple[ReadableSpan, ...], name: str) -> ReadableSpan:
    return next(s for s in spans if s.name == name)


async def test_a_tool_call_is_one_trace_from_the_client_through_the_hub_to_the_upstream(
    exporters: tuple[InMemorySpanExporter, InMemoryMetricReader],
    in_process_hub: LocalFunctionsHost,
    recording_upstream: dict[str, Any],
) -> None:
    spans, _ = exporters
    spans.clear()
    await call(in_process_hub, "echo")
    finished = spans.get_finished_spans()
    upstream = named(finished, "tools/call echo")
    served = [s for s in finished if s.name == "POST /mcp"]
    assert upstream.kind == SpanKind.CLIENT
    assert upstream.attributes is not None
    assert dict(upstream.attributes) | {"jsonrpc.request.id": "-"} == {
        "mcp.method.name": "tools/call",
        "gen_ai.tool.name": "echo",
        "mcphub.server": "rec",
        "mcphub.outcome": "ok",
        "enduser.id": "local:anonymous",
        "jsonrpc.request.id": "-",
        "mcp.session.id": upstream.attributes["mcp.session.id"],
    }
    assert all(s.context is not None and f"{s.context.trace_id:032x}" == CLIENT_TRACE for s in served)
    assert upstream.parent is not None
    assert upstream.parent.span_id in {s.context.span_id for s in served if s.context is not None}
    call_headers = recording_upstream["seen"][-1]
    assert upstream.context is not None
    assert call_headers["traceparent"].split("-")[1:3] == [CLIENT_TRACE, f"{upstream.context.span_id:016x}"]


async def test_a_failed_tool_call_marks_its_span_and_the_duration_metric_names_the_outcome(
    exporters: tuple[InMemorySpanExporter, InMemoryMetricReader], in_process_hub: LocalFunctionsHost
) -> None:
    spans, reader = exporters
    spans.clear()
    await call(in_process_hub, "broken")
    upstream = named(spans.get_finished_spans(), "tools/call broken")
    assert upstream.status.status_code == StatusCode.ERROR
    assert upstream.attributes is not None
    assert upstream.attributes["error.type"] == "tool_error"
    data = reader.get_metrics_data()
    assert data is not None
    points = [
        point.attributes
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == "mcp.client.operation.duration"
        for point in metric.data.data_points
    ]
    assert {
        "mcp.method.name": "tools/call",
        "mcphub.server": "rec",
        "mcphub.outcome": "tool_error",
        "gen_ai.tool.name": "broken",
    } in [dict(p or {}) for p in points]
