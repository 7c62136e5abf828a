"""Traces and metrics through the OpenTelemetry API (a no-op until an SDK is configured:
functions/_telemetry.py does that, or the Functions worker does).

Spans follow the OpenTelemetry MCP conventions: the hub's own handling of a request, and one
CLIENT span per upstream call named `{mcp.method.name} {target}` (`tools/call search`), whose
context travels to the upstream in `traceparent`, so client → hub → upstream is one trace.
Attributes never carry arguments, results, tokens or raw session IDs.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Generator, Mapping, MutableMapping
from typing import TYPE_CHECKING

from opentelemetry import context, metrics, propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

if TYPE_CHECKING:  # the upstream client imports this module, and calls.py imports the client
    from shared.call_record import CallRecord
    from shared.mcp.jsonrpc import Request
    from shared.principal import Principal

_tracer = trace.get_tracer("mcphub")
_meter = metrics.get_meter("mcphub")
_client_duration = _meter.create_histogram(
    "mcp.client.operation.duration", unit="s", description="Upstream MCP requests, as the hub saw them"
)
_server_duration = _meter.create_histogram(
    "mcp.server.operation.duration", unit="s", description="MCP HTTP requests the hub served"
)
_refusals = _meter.create_counter("mcphub.rate_limit.refusals", description="Calls refused by a rate limit")
_OK = frozenset({"ok"})  # a tool result with isError is an error here, as the MCP conventions say


class UpstreamSpan:
    def __init__(self, span: trace.Span) -> None:
        self._span = span

    @contextlib.contextmanager
    def active(self) -> Generator[None]:
        """Make this span current while the upstream request goes out (its traceparent is injected)."""
        token = context.attach(trace.set_span_in_context(self._span))
        try:
            yield
        finally:
            context.detach(token)

    def finish(self, record: CallRecord) -> None:
        attributes: dict[str, str | float] = {"mcphub.outcome": record.outcome}
        if record.session:
            attributes["mcp.session.id"] = hashlib.sha256(record.session.encode()).hexdigest()[:16]
        if record.outcome not in _OK:
            attributes["error.type"] = record.outcome
            self._span.set_status(Status(StatusCode.ERROR, record.outcome))
        self._span.set_attributes(attributes)
        self._span.end()
        labels = {
            "mcp.method.name": record.method,
            "mcphub.server": record.server,
            "mcphub.outcome": record.outcome,
            **({"gen_ai.tool.name": record.tool} if record.method == "tools/call" else {}),
        }
        if record.outcome == "rate_limited":
            _refusals.add(1, labels)
        else:
            _client_duration.record(record.seconds, labels)


class OtelTracer:
    """The call tracer of shared/hub/calls.py."""

    def start(self, principal: Principal, server: str, request: Request) -> UpstreamSpan:
        target = request.params.get("name") if request.method in ("tools/call", "prompts/get") else None
        attributes: dict[str, str] = {
            "mcp.method.name": request.method,
            "mcphub.server": server,
            "enduser.id": principal.key,
            "jsonrpc.request.id": str(request.id),
        }
        if isinstance(target, str):
            attributes["gen_ai.tool.name" if request.method == "tools/call" else "gen_ai.prompt.name"] = target
        name = f"{request.method} {target}" if isinstance(target, str) else request.method
        return UpstreamSpan(_tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes))


@contextlib.contextmanager
def serving(route: str, method: str, headers: Mapping[str, str]) -> Generator[trace.Span]:
    """The hub's span for one HTTP request: a child of the Functions host's span when the worker
    has one, else continuing the client's own `traceparent`."""
    parent = trace.get_current_span().get_span_context()
    if parent.is_valid:
        span_context, kind = None, SpanKind.INTERNAL
    else:
        span_context, kind = propagate.extract(headers), SpanKind.SERVER
    name = f"{method} /mcp/{{server}}" if route else f"{method} /mcp"
    attributes = {"http.request.method": method, "http.route": "/mcp/{server}" if route else "/mcp"}
    if route:
        attributes["mcphub.server"] = route
    with _tracer.start_as_current_span(name, context=span_context, kind=kind, attributes=attributes) as span:
        yield span


def served(span: trace.Span, status: int, seconds: float, route: str) -> None:
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))
    _server_duration.record(seconds, {"http.response.status_code": status, "mcphub.server": route or "*"})


def inject(headers: MutableMapping[str, str]) -> None:
    """Add `traceparent` (and `tracestate`) of the current span to upstream request headers."""
    propagate.inject(headers)
