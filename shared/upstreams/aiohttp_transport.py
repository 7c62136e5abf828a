"""An httpx transport that sends over aiohttp's connection pool and HTTP parser.

The hub keeps httpx as its HTTP API (timeouts, `MockTransport` in tests, one client per worker)
and swaps only the wire layer: `make bench` measured httpx's default transport (httpcore + h11)
at 1.8-2.0 ms CPU per upstream call on this machine, and aiohttp's C parser at about 0.5 ms for the
same request. aiohttp is already a runtime dependency (the async Table Storage client uses it).

Errors are mapped onto httpx's exception tree the way httpcore raises them, so callers cannot tell
the transports apart: a refused connection is `ConnectError` (safe to retry), a connection the
server dropped is `RemoteProtocolError`, a slow read is `ReadTimeout`.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Generator
from contextlib import contextmanager

import aiohttp
import httpx

# Most specific first: ClientConnectorError is a ClientOSError is a ClientConnectionError, and
# the timeout errors are ServerConnectionErrors too.
_ERRORS: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.SocketTimeoutError, httpx.ReadTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.ReadError),
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.ClientError, httpx.NetworkError),
    (TimeoutError, httpx.PoolTimeout),
)


@contextmanager
def _mapped_errors(request: httpx.Request) -> Generator[None]:
    try:
        yield
    except (aiohttp.ClientError, TimeoutError) as exc:
        for source, target in _ERRORS:
            if isinstance(exc, source):
                raise target(str(exc) or type(exc).__name__, request=request) from exc
        raise  # pragma: no cover - the last row catches everything the except clause lets in


class _Body(httpx.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped_errors(self._request):
            # iter_any yields whatever has arrived, so server-sent events are relayed as they come.
            async for chunk in self._response.content.iter_any():
                yield chunk

    async def aclose(self) -> None:
        # Returns the connection to the pool when the body was read to its end, closes it otherwise.
        self._response.release()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One aiohttp connection pool behind an `httpx.AsyncClient`.

    The pool is created on first use, inside the running event loop, and re-created if the worker
    ever serves from a new loop (aiohttp sessions belong to the loop that made them).
    """

    def __init__(self, *, limits: httpx.Limits | None = None, ssl_context: ssl.SSLContext | None = None) -> None:
        limits = limits or httpx.Limits()
        self._max_connections = limits.max_connections or 0  # 0 = no limit, as in aiohttp
        self._keepalive = limits.keepalive_expiry if limits.keepalive_expiry is not None else 15.0
        self._ssl = ssl_context
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _pool(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                keepalive_timeout=self._keepalive,
                ssl=self._ssl if self._ssl is not None else httpx.create_ssl_context(),
            )
            # Cookies would leak state between users' upstream calls; the hub never keeps any.
            self._session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False
            )
            self._loop = loop
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=timeouts.get("pool"),
            sock_connect=timeouts.get("connect"),
            sock_read=timeouts.get("read"),
        )
        body = await request.aread()
        with _mapped_errors(request):
            response = await self._pool().request(
                request.method,
                str(request.url),
                headers=request.headers.multi_items(),
                data=body or None,
                timeout=timeout,
                allow_redirects=False,
                compress=None,
                # httpx already set these; aiohttp must not add its own.
                skip_auto_headers=("Accept-Encoding", "User-Agent", "Content-Type"),
            )
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_Body(response, request),
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": (response.reason or "").encode()},
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def upstream_transport(*, max_connections: int = 200, keepalive_seconds: float = 4.0) -> AiohttpTransport:
    """The worker's one connection pool for every upstream call.

    Keeps no cookies: it is shared by all users, so a cookie one upstream set for one user's call
    would otherwise ride along on everybody's next call. Idle connections are dropped before common
    servers' 5 s keep-alive timeout (uvicorn's default), so the hub never sends on a connection the
    upstream is closing. Redirects are not followed: an MCP endpoint that moves is a configuration
    error to report, not to chase with the request body.
    """
    return AiohttpTransport(limits=httpx.Limits(max_connections=max_connections, keepalive_expiry=keepalive_seconds))


def stream_transport(*, keepalive_seconds: float = 4.0) -> AiohttpTransport:
    """The worker's pool for long-lived streams to upstreams: GET streams and `subscriptions/listen`.

    Kept apart from `upstream_transport`'s, so open streams never take the connections calls need:
    in one shared pool of 200, a load test's 250 streams per instance left calls waiting for a
    connection until they timed out (p95 17 s, and the breaker opened on a healthy upstream). It has
    no limit of its own: each connection is one client's open stream, and an instance's request
    concurrency (the host's `perInstanceConcurrency`) already bounds those.
    """
    return AiohttpTransport(limits=httpx.Limits(max_connections=None, keepalive_expiry=keepalive_seconds))
