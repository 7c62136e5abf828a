"""Every request the hub sends an upstream on a user's behalf: admitted by the rate limiter, then
watched to its end, and reported once to the sinks (audit trail, usage analytics, telemetry).

Sinks are called synchronously and must not block: they buffer and write in the background.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import replace
from typing import Protocol

from shared.audit.redact import redact, result_text, text
from shared.call_record import CallRecord, CallSink, Span
from shared.errors import HubError, PluginRefused, RateLimited, UpstreamError, UpstreamThrottled, UpstreamTimeout
from shared.limits.limiter import RateLimiter
from shared.mcp.jsonrpc import Message, Request, Response
from shared.principal import Principal
from shared.settings import ServerSettings


class Tracer(Protocol):
    def start(self, principal: Principal, server: str, request: Request) -> Span: ...


class Calls:
    def __init__(
        self,
        limiter: RateLimiter | None,
        sinks: list[CallSink],
        *,
        region: str,
        clock: Callable[[], float],
        tracer: Tracer | None = None,
    ) -> None:
        self._limiter = limiter
        self._sinks = sinks
        self._region = region
        self._clock = clock
        self._tracer = tracer

    async def admit(self, principal: Principal, server: ServerSettings, request: Request, session: str = "") -> None:
        """Raise RateLimited (and record the refusal) when a limit on this call is spent."""
        if self._limiter is None:
            return
        try:
            await self._limiter.admit(principal, server.name)
        except RateLimited:
            self._emit(self._record(principal, server, request, "rate_limited", 0.0, self._clock(), session))
            raise

    def refused(
        self, principal: Principal, server: ServerSettings, request: Request, plugin: str, session: str
    ) -> None:
        """A plugin refused the request before it went upstream: recorded like a call, never timed."""
        record = self._record(principal, server, request, "refused", 0.0, self._clock(), session)
        self._emit(replace(record, plugin=plugin))

    async def admit_refusal(self, principal: Principal, route: str) -> None:
        """A refused request (e.g. a session ID never issued) still spends the caller's rate limits."""
        if self._limiter is not None:
            await self._limiter.admit(principal, route)

    def watch(
        self,
        principal: Principal,
        server: ServerSettings,
        request: Request,
        upstream: AsyncGenerator[Message],
        session: str = "",
    ) -> AsyncGenerator[Message]:
        """`upstream`, reporting the call when it ends (answered, failed or abandoned)."""
        return self._watch(principal, server, request, upstream, session)

    async def _watch(
        self,
        principal: Principal,
        server: ServerSettings,
        request: Request,
        upstream: AsyncGenerator[Message],
        session: str,
    ) -> AsyncGenerator[Message]:
        at, started = self._clock(), time.perf_counter()
        span = self._tracer.start(principal, server.name, request) if self._tracer else None
        outcome, answer, plugin = "cancelled", None, ""
        try:
            while True:
                # The span is current only inside each step: never across a yield, where the
                # consumer's context (and the step that closes this generator) may differ.
                with span.active() if span is not None else contextlib.nullcontext():
                    try:
                        message = await anext(upstream)
                    except StopAsyncIteration:
                        break
                if answer is None and isinstance(message, Response):
                    answer = message
                    outcome = _outcome(message)
                yield message
        except HubError as error:
            outcome = _failure(error)
            plugin = error.plugin if isinstance(error, PluginRefused) else ""
            raise
        finally:
            await upstream.aclose()
            record = self._record(principal, server, request, outcome, time.perf_counter() - started, at, session)
            if plugin:
                record = replace(record, plugin=plugin)
            if server.audit_capture and answer is not None:
                record = _with_result(record, answer)
            if span is not None:
                span.finish(record)
            self._emit(record)

    def passed_through(
        self, principal: Principal, server: ServerSettings, request: Request, status: int, seconds: float
    ) -> None:
        """A call relayed byte for byte (2026-07-28 `/mcp/{server}`): judged by its HTTP status only."""
        outcome = "ok" if status < 400 else "throttled" if status == 429 else "error"
        self._emit(self._record(principal, server, request, outcome, seconds, self._clock() - seconds, ""))

    def _record(
        self,
        principal: Principal,
        server: ServerSettings,
        request: Request,
        outcome: str,
        seconds: float,
        at: float,
        session: str,
    ) -> CallRecord:
        params = request.params
        subject = params.get("name") if request.method in ("tools/call", "prompts/get") else params.get("uri")
        return CallRecord(
            at=at,
            user=principal.key,
            tenant=principal.tenant_id,
            server=server.name,
            method=request.method,
            tool=text(subject, 200) if isinstance(subject, str) else "",
            outcome=outcome,
            seconds=seconds,
            region=self._region,
            session=session,
            arguments=redact(params.get("arguments")) if server.audit_capture else None,
        )

    def _emit(self, record: CallRecord) -> None:
        for sink in self._sinks:
            sink(record)


def _outcome(answer: Response) -> str:
    if answer.error is not None:
        return "error"
    if isinstance(answer.result, dict) and answer.result.get("isError") is True:
        return "tool_error"
    return "ok"


def _failure(error: HubError) -> str:
    if isinstance(error, PluginRefused):
        return "refused"
    if isinstance(error, UpstreamTimeout):
        return "timeout"
    if isinstance(error, UpstreamThrottled):
        return "throttled"
    if isinstance(error, UpstreamError):
        return "unavailable"
    return "error"


def _with_result(record: CallRecord, answer: Response) -> CallRecord:
    captured = result_text(answer.result) if answer.error is None else text(str(answer.error.get("message", "")))
    return replace(record, result=captured)
