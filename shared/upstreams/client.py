"""Talking MCP Streamable HTTP to one upstream server, behind the UpstreamClient seam.

`HttpUpstreamClient` uses one shared `httpx.AsyncClient` (connection pool and TLS context reused
by every call on the worker); tests inject an `httpx.MockTransport` or point it at real servers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from shared.background import BackgroundTasks
from shared.errors import (
    HubBusy,
    HubError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamRefused,
    UpstreamSessionExpired,
    UpstreamThrottled,
    UpstreamTimeout,
    UpstreamUnauthorized,
    UpstreamUnavailable,
)
from shared.mcp import jsonrpc
from shared.mcp.jsonrpc import Message, Request, Response
from shared.mcp.sse import Event, EventParser
from shared.settings import ServerSettings
from shared.telemetry import inject
from shared.upstreams.breaker import CircuitBreaker
from shared.upstreams.outcome import Outcome

log = logging.getLogger(__name__)

LISTEN = "subscriptions/listen"  # 2026-07-28: a request whose answer is a long-lived stream
# Methods a retry cannot double-apply: they read, or (initialize) create a session nobody uses yet.
IDEMPOTENT_METHODS = frozenset(
    {
        "initialize",
        "ping",
        "tools/list",
        "prompts/list",
        "prompts/get",
        "resources/list",
        "resources/templates/list",
        "resources/read",
        "completion/complete",
        "server/discover",
    }
)


@dataclass(slots=True)
class Exchange:
    """What the HTTP layer of one exchange said besides the messages themselves."""

    session_id: str | None = None  # the Mcp-Session-Id the upstream assigned (initialize)
    streamed: bool = False  # the upstream answered with text/event-stream
    # The SSE event ID that carried each request the upstream sent (by request ID), where the
    # upstream numbers its events: a stream can be resumed after it (`UpstreamClient.resume`).
    asked_in: dict[str, str] = field(default_factory=lambda: dict[str, str]())


@dataclass(slots=True)
class RawReply:
    status: int
    headers: dict[str, str]
    body: AsyncIterator[bytes]


class UpstreamClient(Protocol):
    def send(
        self,
        server: ServerSettings,
        message: Message,
        *,
        session_id: str | None,
        protocol_version: str | None,
        exchange: Exchange | None = None,
        credentials: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncGenerator[Message]:
        """POST one message; yield what the upstream sends back, ending with the Response (if any).

        `exchange` is filled in with the session ID the upstream assigns and how it answered.
        `credentials` are the calling user's headers for this upstream (never the client's token).
        """
        ...

    def listen(
        self,
        server: ServerSettings,
        *,
        session_id: str,
        protocol_version: str,
        credentials: Mapping[str, str] | None = None,
    ) -> AsyncGenerator[Message]:
        """GET the upstream session's standalone stream; yields until it ends. Empty if unsupported."""
        ...

    def resume(
        self,
        server: ServerSettings,
        *,
        session_id: str,
        protocol_version: str,
        last_event_id: str,
        answer_id: object,
        exchange: Exchange | None = None,
        credentials: Mapping[str, str] | None = None,
    ) -> AsyncGenerator[Message]:
        """The rest of a request's stream after `last_event_id` (a GET with Last-Event-ID), until
        the Response to `answer_id`. UpstreamRefused if the upstream does not resume streams."""
        ...

    async def terminate(
        self,
        server: ServerSettings,
        *,
        session_id: str,
        protocol_version: str,
        credentials: Mapping[str, str] | None = None,
    ) -> None:
        """End our session with the upstream (best effort)."""
        ...

    async def passthrough(
        self,
        server: ServerSettings,
        headers: Mapping[str, str],
        body: bytes,
        credentials: Mapping[str, str] | None = None,
    ) -> RawReply:
        """Relay a stateless request's bytes; the upstream's status, headers and body stream come back."""
        ...


@dataclass(frozen=True, slots=True)
class _Target:
    """What every request to one server repeats, parsed once: URL, deadlines, static headers."""

    settings: ServerSettings
    url: httpx.URL
    timeout: httpx.Timeout
    headers: dict[str, str]


def _busy(server: ServerSettings) -> HubBusy:
    return HubBusy(
        server.name,
        f"this hub instance had no free connection to upstream {server.name!r} in time (its own load; retry)",
    )


def _target(server: ServerSettings) -> _Target:
    headers = {name: secret.get_secret_value() for name, secret in server.headers.items()}
    headers["Accept"] = "application/json, text/event-stream"
    headers["User-Agent"] = "mcphub"
    timeout = httpx.Timeout(server.timeout, connect=server.connect_timeout)
    return _Target(server, httpx.URL(str(server.url)), timeout, headers)


def _headers(
    target: _Target, session_id: str | None, protocol_version: str | None, credentials: Mapping[str, str] | None
) -> dict[str, str]:
    headers = dict(target.headers)
    if credentials:
        headers.update(credentials)
    if session_id:
        headers["Mcp-Session-Id"] = session_id
    if protocol_version:
        headers["MCP-Protocol-Version"] = protocol_version
    inject(headers)
    return headers


def _parse(server: ServerSettings, data: str | bytes) -> Message:
    try:
        return jsonrpc.parse_message(json.loads(data))
    except (ValueError, RecursionError, HubError) as exc:
        # HubError: JSON that is not a JSON-RPC message we accept (e.g. an error with "id": null).
        # It is the upstream's fault, never the client's: it must not leave as the client's error.
        raise UpstreamProtocolError(
            server.name, f"upstream {server.name!r} sent a message that is not JSON-RPC"
        ) from exc


class HttpUpstreamClient:
    """MCP over HTTP to upstreams, straight through an httpx transport.

    No `httpx.AsyncClient` in between: the hub needs none of its request merging, cookie handling
    or redirects, and skipping them saves about a third of a millisecond of CPU per call (`make
    profile`). `transport` is the worker's connection pool for calls; `streams` the one for
    long-lived streams (a GET stream, `subscriptions/listen`), so that open streams never hold the
    connections calls wait for. Without `streams`, both go through `transport`.
    """

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport,
        *,
        streams: httpx.AsyncBaseTransport | None = None,
        breakers: dict[str, CircuitBreaker] | None = None,
        observer: Callable[[str, float, Outcome], None] | None = None,
    ) -> None:
        """`observer(server, seconds, outcome)` hears of every call, for health samples."""
        self._transport = transport
        self._streams = streams if streams is not None else transport
        self._observer = observer
        self._background = BackgroundTasks()
        self._breakers = breakers if breakers is not None else {}
        self._targets: dict[str, _Target] = {}

    async def _open(
        self,
        method: str,
        url: httpx.URL,
        headers: Mapping[str, str],
        limits: httpx.Timeout,
        body: bytes = b"",
        *,
        long_lived: bool = False,
    ) -> httpx.Response:
        """The upstream's response, its body still to be read (and closed by the caller); a
        `long_lived` stream goes through the streams' pool."""
        extensions = {"timeout": limits.as_dict()}
        request = httpx.Request(method, url, headers=headers, content=body or None, extensions=extensions)
        return await (self._streams if long_lived else self._transport).handle_async_request(request)

    def _target(self, server: ServerSettings) -> _Target:
        target = self._targets.get(server.name)
        if target is None or target.settings is not server:
            target = self._targets[server.name] = _target(server)
        return target

    async def send(
        self,
        server: ServerSettings,
        message: Message,
        *,
        session_id: str | None,
        protocol_version: str | None,
        exchange: Exchange | None = None,
        credentials: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncGenerator[Message]:
        breaker = self._breakers.get(server.name)
        started = time.perf_counter()
        observed = self._observer is None

        def observe(outcome: Outcome) -> None:
            # Once per call, at its first message: long tool runs must not read as slow upstreams.
            nonlocal observed
            if not observed and self._observer is not None:
                observed = True
                self._observer(server.name, time.perf_counter() - started, outcome)

        if breaker is not None:
            breaker.before_call(server.name)
        method = message.method if isinstance(message, Request) else None
        attempts = 2
        for attempt in range(attempts):
            yielded = False
            try:
                async for item in self._send_once(
                    server, message, session_id, protocol_version, exchange, credentials, headers
                ):
                    if not yielded and breaker is not None:
                        # The upstream answered: recorded now, since callers stop reading (closing
                        # this stream) at the Response, and the code after the loop never runs then.
                        breaker.record_success()
                    yielded = True
                    observe("ok")
                    yield item
            except _Retryable as exc:
                retry = exc.before_send or method in IDEMPOTENT_METHODS
                if attempt + 1 < attempts and retry and not yielded:
                    log.info("retrying %s on upstream %r after %s", method, server.name, exc.cause)
                    continue
                if breaker is not None:
                    breaker.record_failure()
                observe("error")
                raise exc.cause from None
            except UpstreamRefused:
                # The upstream answered (a 4xx): it is up, it will not serve this request. Counted
                # as a failure, any caller's bad request could open the breaker for every user.
                if breaker is not None and not yielded:
                    breaker.record_success()
                observe("ok")
                raise
            except (UpstreamTimeout, UpstreamUnavailable) as exc:
                if breaker is not None:
                    breaker.record_failure()
                observe(
                    "timeout"
                    if isinstance(exc, UpstreamTimeout)
                    else "throttled"
                    if isinstance(exc, UpstreamThrottled)
                    else "error"
                )
                raise
            except BaseException:
                # No verdict on the upstream (this instance was busy, the caller went away, the
                # session expired): a probe must not hold a half-open breaker shut for good.
                if breaker is not None:
                    breaker.release()
                raise
            if breaker is not None and not yielded:
                breaker.record_success()
            observe("ok")
            return

    async def _send_once(
        self,
        server: ServerSettings,
        message: Message,
        session_id: str | None,
        protocol_version: str | None,
        exchange: Exchange | None,
        credentials: Mapping[str, str] | None,
        extra: Mapping[str, str] | None = None,
    ) -> AsyncGenerator[Message]:
        target = self._target(server)
        headers = _headers(target, session_id, protocol_version, credentials)
        if extra:
            headers.update(extra)
        headers["Content-Type"] = "application/json"
        body = jsonrpc.dumps(message.to_wire())
        try:
            listening = isinstance(message, Request) and message.method == LISTEN
            response = await self._open("POST", target.url, headers, target.timeout, body, long_lived=listening)
            handed_off = False
            try:
                if exchange is not None:
                    exchange.session_id = response.headers.get("mcp-session-id") or exchange.session_id
                    exchange.streamed = response.headers.get("content-type", "").startswith("text/event-stream")
                async for item in self._read_reply(server, message, response, session_id, exchange):
                    if isinstance(item, _HandedOff):
                        handed_off = True
                    else:
                        yield item
            finally:
                if not handed_off:
                    await response.aclose()
        except httpx.ConnectError as exc:
            raise _Retryable(
                UpstreamUnavailable(server.name, f"upstream {server.name!r} refused the connection"), True
            ) from exc
        except httpx.PoolTimeout as exc:
            raise _busy(server) from exc
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout(
                server.name,
                f"upstream {server.name!r} timed out after {server.timeout:g} s "
                f"(MCPHUB_SERVER_{server.name.upper()}__TIMEOUT)",
            ) from exc
        except httpx.HTTPError as exc:
            raise _Retryable(
                UpstreamUnavailable(server.name, f"upstream {server.name!r} connection failed"), False
            ) from exc

    async def _read_reply(
        self,
        server: ServerSettings,
        message: Message,
        response: httpx.Response,
        session_id: str | None,
        exchange: Exchange | None,
    ) -> AsyncGenerator[Message | _HandedOff]:
        status = response.status_code
        if status == 401:
            raise UpstreamUnauthorized(server.name, f"upstream {server.name!r} refused the credentials (HTTP 401)")
        if status == 404 and session_id:
            raise UpstreamSessionExpired(server.name, f"upstream {server.name!r} no longer knows our session")
        if status in (202, 204) and not isinstance(message, Request):
            return
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if status == 429:
            raise UpstreamThrottled(server.name, f"upstream {server.name!r} is throttling the hub (HTTP 429)")
        if status >= 500:
            raise _Retryable(
                UpstreamUnavailable(server.name, f"upstream {server.name!r} answered HTTP {status}"), False
            )
        if content_type == "text/event-stream" and status < 300:
            answer_id = message.id if isinstance(message, Request) else None
            answered = False
            async for item in self._read_sse(server, response, answer_id, exchange):
                answered = answered or isinstance(item, _HandedOff)
                yield item
            if isinstance(message, Request) and not answered:
                raise UpstreamUnavailable(server.name, f"upstream {server.name!r} closed the stream before answering")
            return
        raw = await response.aread()
        if content_type == "application/json":
            try:
                parsed = _parse(server, raw)
            except UpstreamProtocolError:
                if status >= 400:
                    raise UpstreamRefused(server.name, f"upstream {server.name!r} answered HTTP {status}") from None
                raise
            if isinstance(parsed, Response):
                yield parsed
                return
        if status >= 400:
            raise UpstreamRefused(server.name, f"upstream {server.name!r} answered HTTP {status}")
        raise UpstreamProtocolError(
            server.name, f"upstream {server.name!r} answered {content_type or 'no content type'} instead of MCP"
        )

    async def _read_sse(
        self,
        server: ServerSettings,
        response: httpx.Response,
        answer_id: object = None,
        exchange: Exchange | None = None,
    ) -> AsyncGenerator[Message | _HandedOff]:
        """Messages from an event stream, until the one answering `answer_id`.

        Servers end a POST's stream right after the answer, but reading that end takes a little
        while; the rest is read by a background task after `_HANDED_OFF`, so the answer goes out
        at once and the keep-alive connection still goes back to the pool.
        """
        parser = EventParser()
        chunks = response.aiter_bytes()
        async for chunk in chunks:
            for event in parser.feed(chunk):
                message = _message_of(server, event, exchange)
                if message is None:
                    continue
                if answer_id is not None and isinstance(message, Response) and message.id == answer_id:
                    self._background.spawn(_drain_and_close(chunks, response))
                    yield _HANDED_OFF
                    yield message
                    return
                yield message

    async def listen(
        self,
        server: ServerSettings,
        *,
        session_id: str,
        protocol_version: str,
        credentials: Mapping[str, str] | None = None,
    ) -> AsyncGenerator[Message]:
        target = self._target(server)
        headers = _headers(target, session_id, protocol_version, credentials)
        headers["Accept"] = "text/event-stream"
        timeout = httpx.Timeout(None, connect=server.connect_timeout)
        try:
            response = await self._open("GET", target.url, headers, timeout, long_lived=True)
            try:
                if response.status_code == 404:
                    raise UpstreamSessionExpired(server.name, f"upstream {server.name!r} no longer knows our session")
                if response.status_code != 200:
                    return  # 405: the upstream offers no standalone stream
                async for item in self._read_sse(server, response):
                    if not isinstance(item, _HandedOff):
                        yield item
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(server.name, f"upstream {server.name!r} stream failed") from exc

    async def resume(
        self,
        server: ServerSettings,
        *,
        session_id: str,
        protocol_version: str,
        last_event_id: str,
        answer_id: object,
        exchange: Exchange | None = None,
        credentials: Mapping[str, str] | None = None,
    ) -> AsyncGenerator[Message]:
        """GET with Last-Event-ID, and again from the newest event ID whenever the stream ends or
        stays quiet (2025-11-25 "Resumability and Redelivery"; some servers' event stores replay
        what is stored and send nothing live), until the Response to `answer_id`. UpstreamTimeout
        after `server.timeout` without an event."""
        target = self._target(server)
        last = last_event_id
        progress = time.monotonic()
        quiet, pause = _RESUME_QUIET_SECONDS, 0.0  # pause: the server's `retry` time, if it gives one
        while True:
            headers = _headers(target, session_id, protocol_version, credentials)
            headers["Accept"] = "text/event-stream"
            headers["Last-Event-ID"] = last
            unbounded = httpx.Timeout(None, connect=server.connect_timeout)
            try:
                response = await self._open("GET", target.url, headers, unbounded, long_lived=True)
            except httpx.HTTPError as exc:
                raise UpstreamUnavailable(server.name, f"upstream {server.name!r} did not take the resumption") from exc
            try:
                _check_resumed(server, response)
                parser = EventParser()
                chunks = response.aiter_bytes()
                while True:
                    wait = min(quiet, progress + server.timeout - time.monotonic())
                    if wait <= 0:
                        said = f"upstream {server.name!r} sent nothing for {server.timeout:g} s"
                        raise UpstreamTimeout(server.name, said)
                    try:
                        chunk = await asyncio.wait_for(anext(chunks), wait)
                    except TimeoutError:
                        break  # quiet: ask again from the newest event
                    except StopAsyncIteration:
                        await asyncio.sleep(min(max(pause, quiet), wait))  # ended: ask again after a while
                        break
                    for event in parser.feed(chunk):
                        if event.retry is not None:
                            pause = event.retry / 1000
                        if event.id:
                            last, progress, quiet = event.id, time.monotonic(), _RESUME_QUIET_SECONDS
                        message = _message_of(server, event, exchange)
                        if message is None:
                            continue
                        yield message
                        if isinstance(message, Response) and message.id == answer_id:
                            return
            except httpx.HTTPError as exc:
                raise UpstreamUnavailable(server.name, f"upstream {server.name!r} stream failed") from exc
            finally:
                await response.aclose()
            quiet = min(quiet * 2, _RESUME_QUIET_MAX_SECONDS)

    async def passthrough(
        self,
        server: ServerSettings,
        headers: Mapping[str, str],
        body: bytes,
        credentials: Mapping[str, str] | None = None,
    ) -> RawReply:
        """POST the client's bytes unchanged and hand back the upstream's status, type and body stream.

        Used for stateless (2026-07-28) requests to `/mcp/{server}`: the upstream validates and
        answers exactly as it would directly, and its stream is relayed as it arrives.
        """
        breaker = self._breakers.get(server.name)
        if breaker is not None:
            breaker.before_call(server.name)
        forwarded = {name: value for name, value in headers.items() if name in _PASSTHROUGH_HEADERS}
        forwarded.update((name, value) for name, value in headers.items() if name.startswith("mcp-param-"))
        inject(forwarded)
        forwarded.update((name, secret.get_secret_value()) for name, secret in server.headers.items())
        forwarded.update(credentials or {})
        target = self._target(server)
        try:
            listening = forwarded.get("mcp-method") == LISTEN
            response = await self._open("POST", target.url, forwarded, target.timeout, body, long_lived=listening)
        except httpx.PoolTimeout as exc:
            if breaker is not None:
                breaker.release()
            raise _busy(server) from exc
        except httpx.TimeoutException as exc:
            if breaker is not None:
                breaker.record_failure()
            raise UpstreamTimeout(server.name, f"upstream {server.name!r} timed out") from exc
        except httpx.HTTPError as exc:
            if breaker is not None:
                breaker.record_failure()
            raise UpstreamUnavailable(server.name, f"upstream {server.name!r} is unreachable") from exc
        except BaseException:  # cancelled (the caller went away): no verdict, the next call may probe
            if breaker is not None:
                breaker.release()
            raise
        if breaker is not None:
            (breaker.record_failure if response.status_code >= 500 else breaker.record_success)()
        kept = {k: v for k, v in response.headers.items() if k in ("content-type", "allow", "cache-control")}
        return RawReply(response.status_code, kept, _stream_and_close(response))

    async def terminate(
        self,
        server: ServerSettings,
        *,
        session_id: str,
        protocol_version: str,
        credentials: Mapping[str, str] | None = None,
    ) -> None:
        """DELETE the upstream session; best effort (a server may answer 405)."""
        target = self._target(server)
        headers = _headers(target, session_id, protocol_version, credentials)
        try:
            response = await self._open("DELETE", target.url, headers, httpx.Timeout(server.connect_timeout))
            try:
                await response.aread()
            finally:
                await response.aclose()
        except httpx.HTTPError:
            log.info("could not end session on upstream %r", server.name)


def _message_of(server: ServerSettings, event: Event, exchange: Exchange | None) -> Message | None:
    """The JSON-RPC message an SSE event carries (None for priming events and other kinds); notes
    in `exchange` which event carried each request the upstream sent (a resumption point)."""
    if event.event != "message" or not event.data:
        return None
    message = _parse(server, event.data)
    if exchange is not None and event.id and isinstance(message, Request):
        exchange.asked_in[str(message.id)] = event.id
    return message


def _check_resumed(server: ServerSettings, response: httpx.Response) -> None:
    """A resumption GET's status: the stream, or why not."""
    status = response.status_code
    if status == 401:
        raise UpstreamUnauthorized(server.name, f"upstream {server.name!r} refused the credentials (HTTP 401)")
    if status == 404:
        raise UpstreamSessionExpired(server.name, f"upstream {server.name!r} no longer knows our session")
    if status != 200 or not response.headers.get("content-type", "").startswith("text/event-stream"):
        raise UpstreamRefused(server.name, f"upstream {server.name!r} did not resume the stream (HTTP {status})")


# Request headers a transparent passthrough forwards. Never Authorization or cookies: the
# client's credentials are for the hub, not for the upstream.
_PASSTHROUGH_HEADERS = ("content-type", "accept", "mcp-protocol-version", "mcp-method", "mcp-name", "last-event-id")


class _HandedOff:
    """Marker: the rest of the response stream now belongs to a background task."""


_HANDED_OFF = _HandedOff()


class _Retryable(Exception):
    def __init__(self, cause: UpstreamError, before_send: bool) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.before_send = before_send


_DRAIN_SECONDS = 0.25
# A resumed stream quiet this long is asked again from its newest event (doubling to the most).
_RESUME_QUIET_SECONDS = 0.1
_RESUME_QUIET_MAX_SECONDS = 2.0


async def _drain_and_close(chunks: AsyncIterator[bytes], response: httpx.Response) -> None:
    """Read a stream to its end after the answer, so its keep-alive connection goes back to the pool.

    A server that does not end the stream costs us that connection after a short wait.
    """
    try:
        async with asyncio.timeout(_DRAIN_SECONDS):
            async for _ in chunks:
                pass
    except (TimeoutError, httpx.HTTPError):
        pass
    finally:
        await response.aclose()


async def _stream_and_close(response: httpx.Response) -> AsyncIterator[bytes]:
    try:
        # Decoded bytes: Content-Encoding is not forwarded, so compressed bytes would be garbage.
        async for chunk in response.aiter_bytes():
            yield chunk
    finally:
        await response.aclose()
