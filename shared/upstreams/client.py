"""Talking MCP Streamable HTTP to one upstream server, behind the UpstreamClient seam.

`HttpUpstreamClient` uses one shared `httpx.AsyncClient` (connection pool and TLS context reused
by every call on the worker); tests inject an `httpx.MockTransport` or point it at real servers.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Protocol

import httpx

from shared.errors import UpstreamError, UpstreamProtocolError, UpstreamTimeout, UpstreamUnavailable
from shared.mcp import jsonrpc
from shared.mcp.jsonrpc import Message, Request, Response
from shared.mcp.sse import EventParser
from shared.settings import ServerSettings
from shared.upstreams.breaker import CircuitBreaker

log = logging.getLogger(__name__)

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


@dataclass(slots=True)
class RawReply:
    status: int
    headers: dict[str, str]
    body: AsyncIterator[bytes]


class UpstreamSessionExpired(UpstreamError):
    """The upstream answered 404 to our session ID: initialize again and retry once."""


class UpstreamClient(Protocol):
    def send(
        self,
        server: ServerSettings,
        message: Message,
        *,
        session_id: str | None,
        protocol_version: str | None,
        exchange: Exchange | None = None,
    ) -> AsyncGenerator[Message]:
        """POST one message; yield what the upstream sends back, ending with the Response (if any).

        `exchange` is filled in with the session ID the upstream assigns and how it answered.
        """
        ...

    def listen(self, server: ServerSettings, *, session_id: str, protocol_version: str) -> AsyncGenerator[Message]:
        """GET the upstream session's standalone stream; yields until it ends. Empty if unsupported."""
        ...

    async def terminate(self, server: ServerSettings, *, session_id: str, protocol_version: str) -> None:
        """End our session with the upstream (best effort)."""
        ...

    async def passthrough(self, server: ServerSettings, headers: Mapping[str, str], body: bytes) -> RawReply:
        """Relay a stateless request's bytes; the upstream's status, headers and body stream come back."""
        ...


def _headers(server: ServerSettings, session_id: str | None, protocol_version: str | None) -> dict[str, str]:
    headers = {name: secret.get_secret_value() for name, secret in server.headers.items()}
    headers["Accept"] = "application/json, text/event-stream"
    if session_id:
        headers["Mcp-Session-Id"] = session_id
    if protocol_version:
        headers["MCP-Protocol-Version"] = protocol_version
    return headers


def _parse(server: ServerSettings, data: str | bytes) -> Message:
    try:
        return jsonrpc.parse_message(json.loads(data))
    except (ValueError, RecursionError) as exc:
        raise UpstreamProtocolError(
            server.name, f"upstream {server.name!r} sent a message that is not JSON-RPC"
        ) from exc


class HttpUpstreamClient:
    def __init__(self, http: httpx.AsyncClient, *, breakers: dict[str, CircuitBreaker] | None = None) -> None:
        self._http = http
        self._breakers = breakers if breakers is not None else {}

    async def send(
        self,
        server: ServerSettings,
        message: Message,
        *,
        session_id: str | None,
        protocol_version: str | None,
        exchange: Exchange | None = None,
    ) -> AsyncGenerator[Message]:
        breaker = self._breakers.get(server.name)
        if breaker is not None:
            breaker.before_call(server.name)
        method = message.method if isinstance(message, Request) else None
        attempts = 2
        for attempt in range(attempts):
            yielded = False
            try:
                async for item in self._send_once(server, message, session_id, protocol_version, exchange):
                    yielded = True
                    yield item
            except _Retryable as exc:
                retry = exc.before_send or method in IDEMPOTENT_METHODS
                if attempt + 1 < attempts and retry and not yielded:
                    log.info("retrying %s on upstream %r after %s", method, server.name, exc.cause)
                    continue
                if breaker is not None:
                    breaker.record_failure()
                raise exc.cause from None
            except (UpstreamTimeout, UpstreamUnavailable):
                if breaker is not None:
                    breaker.record_failure()
                raise
            if breaker is not None:
                breaker.record_success()
            return

    async def _send_once(
        self,
        server: ServerSettings,
        message: Message,
        session_id: str | None,
        protocol_version: str | None,
        exchange: Exchange | None,
    ) -> AsyncGenerator[Message]:
        url = str(server.url)
        headers = _headers(server, session_id, protocol_version)
        headers["Content-Type"] = "application/json"
        timeout = httpx.Timeout(server.timeout, connect=server.connect_timeout)
        body = jsonrpc.dumps(message.to_wire())
        try:
            async with self._http.stream("POST", url, content=body, headers=headers, timeout=timeout) as response:
                if exchange is not None:
                    exchange.session_id = response.headers.get("mcp-session-id") or exchange.session_id
                    exchange.streamed = response.headers.get("content-type", "").startswith("text/event-stream")
                async for item in self._read_reply(server, message, response, session_id):
                    yield item
        except httpx.ConnectError as exc:
            raise _Retryable(
                UpstreamUnavailable(server.name, f"upstream {server.name!r} refused the connection"), True
            ) from exc
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
        self, server: ServerSettings, message: Message, response: httpx.Response, session_id: str | None
    ) -> AsyncGenerator[Message]:
        status = response.status_code
        if status == 404 and session_id:
            raise UpstreamSessionExpired(server.name, f"upstream {server.name!r} no longer knows our session")
        if status in (202, 204) and not isinstance(message, Request):
            return
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if status >= 500:
            raise _Retryable(
                UpstreamUnavailable(server.name, f"upstream {server.name!r} answered HTTP {status}"), False
            )
        if content_type == "text/event-stream" and status < 300:
            answer_id = message.id if isinstance(message, Request) else None
            async for item in self._read_sse(server, response, answer_id):
                yield item
                if isinstance(item, Response) and answer_id is not None and item.id == answer_id:
                    return
            if isinstance(message, Request):
                raise UpstreamUnavailable(server.name, f"upstream {server.name!r} closed the stream before answering")
            return
        raw = await response.aread()
        if content_type == "application/json":
            parsed = _parse(server, raw)
            if isinstance(parsed, Response):
                yield parsed
                return
        if status >= 400:
            raise UpstreamUnavailable(server.name, f"upstream {server.name!r} answered HTTP {status}")
        raise UpstreamProtocolError(
            server.name, f"upstream {server.name!r} answered {content_type or 'no content type'} instead of MCP"
        )

    async def _read_sse(
        self, server: ServerSettings, response: httpx.Response, answer_id: object = None
    ) -> AsyncGenerator[Message]:
        """Messages from an event stream; the one answering `answer_id` comes after the stream is
        read to its end, so the keep-alive connection can go back to the pool."""
        parser = EventParser()
        chunks = response.aiter_bytes()
        async for chunk in chunks:
            for event in parser.feed(chunk):
                if event.event != "message" or not event.data:
                    continue
                message = _parse(server, event.data)
                if answer_id is not None and isinstance(message, Response) and message.id == answer_id:
                    await _drain(chunks)
                    yield message
                    return
                yield message

    async def listen(
        self, server: ServerSettings, *, session_id: str, protocol_version: str
    ) -> AsyncGenerator[Message]:
        headers = _headers(server, session_id, protocol_version)
        headers["Accept"] = "text/event-stream"
        timeout = httpx.Timeout(None, connect=server.connect_timeout)
        try:
            async with self._http.stream("GET", str(server.url), headers=headers, timeout=timeout) as response:
                if response.status_code == 404:
                    raise UpstreamSessionExpired(server.name, f"upstream {server.name!r} no longer knows our session")
                if response.status_code != 200:
                    return  # 405: the upstream offers no standalone stream
                async for item in self._read_sse(server, response):
                    yield item
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(server.name, f"upstream {server.name!r} stream failed") from exc

    async def passthrough(self, server: ServerSettings, headers: Mapping[str, str], body: bytes) -> RawReply:
        """POST the client's bytes unchanged and hand back the upstream's status, type and body stream.

        Used for stateless (2026-07-28) requests to `/mcp/{server}`: the upstream validates and
        answers exactly as it would directly, and its stream is relayed as it arrives.
        """
        breaker = self._breakers.get(server.name)
        if breaker is not None:
            breaker.before_call(server.name)
        forwarded = {name: value for name, value in headers.items() if name in _PASSTHROUGH_HEADERS}
        forwarded.update((name, value) for name, value in headers.items() if name.startswith("mcp-param-"))
        forwarded.update((name, secret.get_secret_value()) for name, secret in server.headers.items())
        request = self._http.build_request(
            "POST",
            str(server.url),
            content=body,
            headers=forwarded,
            timeout=httpx.Timeout(server.timeout, connect=server.connect_timeout),
        )
        try:
            response = await self._http.send(request, stream=True)
        except httpx.TimeoutException as exc:
            if breaker is not None:
                breaker.record_failure()
            raise UpstreamTimeout(server.name, f"upstream {server.name!r} timed out") from exc
        except httpx.HTTPError as exc:
            if breaker is not None:
                breaker.record_failure()
            raise UpstreamUnavailable(server.name, f"upstream {server.name!r} is unreachable") from exc
        if breaker is not None:
            (breaker.record_failure if response.status_code >= 500 else breaker.record_success)()
        kept = {k: v for k, v in response.headers.items() if k in ("content-type", "allow", "cache-control")}
        return RawReply(response.status_code, kept, _stream_and_close(response))

    async def terminate(self, server: ServerSettings, *, session_id: str, protocol_version: str) -> None:
        """DELETE the upstream session; best effort (a server may answer 405)."""
        headers = _headers(server, session_id, protocol_version)
        try:
            await self._http.delete(str(server.url), headers=headers, timeout=server.connect_timeout)
        except httpx.HTTPError:
            log.info("could not end session on upstream %r", server.name)


# Request headers a transparent passthrough forwards. Never Authorization or cookies: the
# client's credentials are for the hub, not for the upstream.
_PASSTHROUGH_HEADERS = ("content-type", "accept", "mcp-protocol-version", "mcp-method", "mcp-name", "last-event-id")


class _Retryable(Exception):
    def __init__(self, cause: UpstreamError, before_send: bool) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.before_send = before_send


_DRAIN_SECONDS = 0.25


async def _drain(chunks: AsyncIterator[bytes]) -> None:
    """Read a stream to its end after the answer, so its keep-alive connection goes back to the pool.

    Servers close a POST's stream right after the answer; one that does not costs us a connection
    after a short wait instead of stalling the reply.
    """
    try:
        async with asyncio.timeout(_DRAIN_SECONDS):
            async for _ in chunks:
                pass
    except (TimeoutError, httpx.HTTPError):
        return


async def _stream_and_close(response: httpx.Response) -> AsyncIterator[bytes]:
    try:
        # Decoded bytes: Content-Encoding is not forwarded, so compressed bytes would be garbage.
        async for chunk in response.aiter_bytes():
            yield chunk
    finally:
        await response.aclose()
