"""The hub's sessions with upstreams, made lazily per client session and kept in the session row."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
import weakref
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from shared.errors import (
    UpstreamError,
    UpstreamProtocolError,
    UpstreamRefused,
    UpstreamSessionExpired,
    UpstreamUnauthorized,
    UpstreamUnavailable,
)
from shared.hub.upstream_eras import ERA_TTL_SECONDS, EraProbe
from shared.identity.upstream_auth import UpstreamCredentials
from shared.mcp.envelope import Envelope, routing_headers
from shared.mcp.jsonrpc import JsonObject, Message, Notification, Request, Response
from shared.mcp.versions import (
    HANDSHAKE_VERSIONS,
    LATEST_HANDSHAKE,
    MODERN_VERSIONS,
)
from shared.principal import ANONYMOUS, Principal
from shared.sessions.cache import SessionCache
from shared.sessions.model import SessionRecord, UpstreamSession
from shared.settings import ServerSettings
from shared.upstreams.client import Exchange, RawReply, UpstreamClient

log = logging.getLogger(__name__)

HUB_INFO = {"name": "mcphub", "title": "MCPHub", "version": "0.1.0"}


class HandshakeRefused(UpstreamUnavailable):
    """The upstream refused `initialize` and serves 2026-07-28: it is reached statelessly instead."""


@dataclass(slots=True)
class SessionContext:
    """The client session a request belongs to; `record` is replaced as upstream sessions are added.

    `allowed` comes from the caller's token on every request, never from the stored session, so
    a role taken away applies at once. `persistent` is False for the per-instance pool that
    serves stateless (2026-07-28) clients: its upstream sessions live in this process only, since
    any instance can open new ones.
    """

    record: SessionRecord
    persistent: bool = True
    allowed: frozenset[str] | None = None  # servers the caller may see; None = all of them
    assertion: str | None = None  # the caller's Entra token, for on-behalf-of upstreams only
    principal: Principal = ANONYMOUS  # the caller of the current request (roles, auth contexts)
    # A 2026-07-28 request: its envelope goes on to upstreams that speak that era too, and `pool`
    # holds this instance's sessions with the upstreams that do not (shared by the user's requests).
    envelope: Envelope | None = None
    pool: SessionContext | None = None

    @property
    def user(self) -> str:
        return self.record.owner


class UpstreamSessions:
    def __init__(
        self,
        client: UpstreamClient,
        sessions: SessionCache,
        credentials: UpstreamCredentials | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._sessions = sessions
        self._credentials = credentials
        self._ids = itertools.count(1)
        self._locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = weakref.WeakValueDictionary()
        self._eras = EraProbe(client, HUB_INFO, clock=clock)
        self._clock = clock
        # Servers that refused the handshake and serve 2026-07-28 (server -> when seen): a
        # handshake-era caller's requests reach them statelessly, with an envelope made from its session.
        self._modern_only: dict[str, float] = {}
        self._initialized: dict[str, JsonObject] = {}  # server -> its last initialize result

    async def speaks_stateless(self, server: ServerSettings) -> bool:
        """Whether `server` serves 2026-07-28 (upstream_eras.py)."""

        async def credentials() -> dict[str, str]:
            # Per-user credentials belong to callers: ask without them (a 401 reads as "sessions").
            return {} if server.per_user else await self.auth(server, "", None)

        return await self._eras.speaks_stateless(server, credentials)

    async def handshake_refused(self, server: ServerSettings) -> bool:
        """After `server` refused `initialize`: whether it serves 2026-07-28 (then remembered)."""
        if not await self.speaks_stateless(server):
            return False
        self._modern_only[server.name] = self._clock()
        return True

    def initialized(self, server: ServerSettings) -> JsonObject | None:
        """What a handshake-era server last answered to the hub's initialize."""
        return self._initialized.get(server.name)

    def discovered(self, server: ServerSettings) -> JsonObject | None:
        """What a server of 2026-07-28 last answered to server/discover."""
        return self._eras.discovered(server)

    def modern_only(self, server: ServerSettings) -> bool:
        """Whether `server` refused the handshake lately and serves 2026-07-28 only."""
        seen = self._modern_only.get(server.name)
        return seen is not None and self._clock() - seen < ERA_TTL_SECONDS

    @staticmethod
    def bridged_envelope(record: SessionRecord) -> Envelope:
        """A handshake-era session's client, as a 2026-07-28 request's envelope declares it."""
        return Envelope(MODERN_VERSIONS[-1], record.client_capabilities, record.client_info or HUB_INFO)

    async def declared(self, ctx: SessionContext, server: ServerSettings) -> JsonObject:
        """The client capabilities `server` sees for this caller (what may shape its lists)."""
        if ctx.envelope is not None and await self.speaks_stateless(server):
            return ctx.envelope.client_capabilities
        return ctx.record.client_capabilities

    async def auth(self, server: ServerSettings, user: str, assertion: str | None = None) -> dict[str, str]:
        """The headers that authenticate this user (or the hub) to `server`."""
        if self._credentials is None:
            return {}
        return await self._credentials.headers(server, user, assertion)

    def sends_credentials(self, server: ServerSettings) -> bool:
        """Whether anything but the server's static headers authenticates the hub to `server`."""
        return self._credentials is not None and self._credentials.auth_for(server).sends_credentials

    @contextlib.asynccontextmanager
    async def _refused_as(self, server: ServerSettings, user: str) -> AsyncGenerator[None]:
        """An upstream's 401 inside is *our* credential for `user` refused: it leaves as `rejected`."""
        try:
            yield
        except UpstreamUnauthorized:
            raise await self.rejected(server, user) from None

    async def rejected(self, server: ServerSettings, user: str) -> UpstreamError:
        if self._credentials is None:
            return UpstreamError(server.name, f"upstream {server.name!r} refused the hub's credentials")
        return await self._credentials.rejected(server, user)

    def _init_params(self, record: SessionRecord) -> JsonObject:
        version = record.protocol_version if record.protocol_version in HANDSHAKE_VERSIONS else LATEST_HANDSHAKE
        return {
            "protocolVersion": version,
            "capabilities": record.client_capabilities,
            "clientInfo": record.client_info or HUB_INFO,
        }

    async def open(
        self,
        server: ServerSettings,
        params: JsonObject,
        request_id: str | int = "mcphub-init",
        *,
        user: str,
        assertion: str | None = None,
    ) -> tuple[UpstreamSession, Response]:
        """Run the initialize handshake with an upstream; the Response is the upstream's own answer."""
        exchange = Exchange()
        response: Response | None = None
        credentials = await self.auth(server, user, assertion)
        initialize = Request(request_id, "initialize", params)
        async with self._refused_as(server, user):
            async for message in self._client.send(
                server, initialize, session_id=None, protocol_version=None, exchange=exchange, credentials=credentials
            ):
                if isinstance(message, Response):
                    response = message
        if response is None:
            raise UpstreamProtocolError(server.name, f"upstream {server.name!r} did not answer initialize")
        if response.error is not None:
            return UpstreamSession(None, LATEST_HANDSHAKE), response
        version = str((response.result or {}).get("protocolVersion", LATEST_HANDSHAKE))
        upstream = UpstreamSession(exchange.session_id, version)
        async for _ in self._client.send(
            server,
            Notification("notifications/initialized"),
            session_id=upstream.session_id,
            protocol_version=version,
            credentials=credentials,
        ):
            pass
        return upstream, response

    async def ensure(
        self, ctx: SessionContext, server: ServerSettings, *, stale: UpstreamSession | None = None
    ) -> UpstreamSession:
        """Our session with `server` for this client session; `stale` is one the upstream just rejected."""
        if ctx.pool is not None:
            ctx.record = ctx.pool.record  # what this user's other requests opened meanwhile
        known = ctx.record.upstreams.get(server.name)
        if known is not None and known != stale:
            return known
        session_id = ctx.record.session_id
        # Weak values: a lock lives while a task holds it, so the map does not grow with every session.
        lock = self._locks.setdefault((session_id, server.name), asyncio.Lock())
        async with lock:
            if ctx.persistent:
                # Another task here may have opened it meanwhile (the cache), or another instance (one read).
                current = self._sessions.peek(session_id)
                if current is None or current.upstreams.get(server.name) in (None, stale):
                    current = await self._sessions.refresh(session_id) or current
                if current is not None:
                    ctx.record = current
            elif ctx.pool is not None:
                ctx.record = ctx.pool.record  # another request of this user may have opened it meanwhile
            known = ctx.record.upstreams.get(server.name)
            if known is not None and known != stale:
                return known
            try:
                upstream, response = await self.open(
                    server, self._init_params(ctx.record), user=ctx.user, assertion=ctx.assertion
                )
            except UpstreamRefused:
                if not await self.handshake_refused(server):
                    raise
                raise HandshakeRefused(server.name, f"upstream {server.name!r} serves 2026-07-28 only") from None
            if response.error is not None:
                message = str(response.error.get("message", "error"))
                if await self.handshake_refused(server):
                    raise HandshakeRefused(server.name, f"upstream {server.name!r} serves 2026-07-28 only")
                raise UpstreamUnavailable(server.name, f"upstream {server.name!r} refused initialize: {message}")
            self._initialized[server.name] = response.result or {}
            if ctx.persistent:
                ctx.record = await self._sessions.put_upstream(ctx.record, server.name, upstream)
            else:
                ctx.record = ctx.record.with_upstream(server.name, upstream)
                if ctx.pool is not None:
                    ctx.pool.record = ctx.pool.record.with_upstream(server.name, upstream)
            return upstream

    async def forward(
        self, ctx: SessionContext, server: ServerSettings, message: Message, exchange: Exchange | None = None
    ) -> AsyncGenerator[Message]:
        """Send a message on our session with `server`; reopen the session once if the upstream lost it.

        A 2026-07-28 caller's request goes to an upstream of that era as one stateless request with
        the caller's envelope (its capabilities, so the upstream asks only what the client can
        answer, through `input_required` results that pass back to the client unchanged)."""
        if ctx.envelope is not None and await self.speaks_stateless(server):
            async for item in self._stateless(ctx, server, message, exchange, ctx.envelope):
                yield item
            return
        # A handshake-era caller and an upstream of 2026-07-28 only: its `input_required` answers
        # reach the client as requests on the call's stream (shared.hub.rounds).
        try:
            upstream = None if self.modern_only(server) else await self.ensure(ctx, server)
        except HandshakeRefused:
            upstream = None
        if upstream is None:
            async for item in self._stateless(ctx, server, message, exchange, self.bridged_envelope(ctx.record)):
                yield item
            return
        credentials = await self.auth(server, ctx.user, ctx.assertion)
        for attempt in range(2):
            try:
                async with self._refused_as(server, ctx.user):
                    async for item in self._client.send(
                        server,
                        message,
                        session_id=upstream.session_id,
                        protocol_version=upstream.protocol_version,
                        exchange=exchange,
                        credentials=credentials,
                    ):
                        yield item
                return
            except UpstreamSessionExpired:
                if attempt:
                    raise
                upstream = await self.ensure(ctx, server, stale=upstream)

    async def _stateless(
        self,
        ctx: SessionContext,
        server: ServerSettings,
        message: Message,
        exchange: Exchange | None,
        envelope: Envelope,
    ) -> AsyncGenerator[Message]:
        if not isinstance(message, Request):
            return  # the era has no notifications or answers to send: closing the stream cancels
        meta = dict(cast(JsonObject, message.params.get("_meta") or {}))
        meta.update(envelope.meta())
        sent = Request(message.id, message.method, {**message.params, "_meta": meta})
        version = envelope.protocol_version
        headers = {**envelope.param_headers, **routing_headers(sent.method, sent.params, version)}
        credentials = await self.auth(server, ctx.user, ctx.assertion)
        async with self._refused_as(server, ctx.user):
            async for item in self._client.send(
                server,
                sent,
                session_id=None,
                protocol_version=version,
                exchange=exchange,
                credentials=credentials,
                headers=headers,
            ):
                yield item

    async def deliver(self, ctx: SessionContext, server: ServerSettings, message: Message) -> None:
        """Send a message whose answer nobody waits for (notifications, relayed answers, refusals).

        Failures are logged, not raised: the client that caused it has nothing to retry.
        """
        try:
            async for _ in self.forward(ctx, server, message):
                pass
        except UpstreamError as error:
            kind = message.method if isinstance(message, Request | Notification) else "an answer"
            log.info("could not deliver %s to upstream %r: %s", kind, server.name, error.message)

    async def request(self, ctx: SessionContext, server: ServerSettings, method: str, params: JsonObject) -> Any:
        """A hub-internal request (lists): the result, or UpstreamError."""
        response: Response | None = None
        # Unique per call: concurrent lists on one upstream session must not share a request ID.
        request = Request(f"mcphub-{method}-{next(self._ids)}", method, params)
        async for message in self.forward(ctx, server, request):
            if isinstance(message, Response):
                response = message
        if response is None:
            raise UpstreamProtocolError(server.name, f"upstream {server.name!r} sent no answer to {method}")
        if response.error is not None:
            raise UpstreamUnavailable(
                server.name,
                f"upstream {server.name!r} answered {method} with an error: {response.error.get('message')}",
            )
        return response.result or {}

    async def answer(
        self,
        ctx: SessionContext,
        server: ServerSettings,
        answer: Message,
        upstream_session: str | None,
        protocol_version: str | None = None,
    ) -> None:
        """The client's answer (or a cancellation) for a request the upstream sent on
        `upstream_session`, which may be another instance's session (a resumed exchange)."""
        upstream = ctx.record.upstreams.get(server.name)
        session_id = upstream_session if upstream_session is not None else (upstream.session_id if upstream else None)
        version = protocol_version or (upstream.protocol_version if upstream else HANDSHAKE_VERSIONS[-1])
        credentials = await self.auth(server, ctx.user, ctx.assertion)
        try:
            async with self._refused_as(server, ctx.user):
                async for _ in self._client.send(
                    server, answer, session_id=session_id, protocol_version=version, credentials=credentials
                ):
                    pass
        except UpstreamSessionExpired:
            log.info("dropped an answer for upstream %r: its session ended", server.name)

    async def resumed(
        self,
        ctx: SessionContext,
        server: ServerSettings,
        *,
        session_id: str,
        protocol_version: str,
        last_event_id: str,
        answer_id: object,
        exchange: Exchange,
    ) -> AsyncGenerator[Message]:
        """The rest of a request's stream on `session_id` (maybe another instance's), after
        `last_event_id`, with this user's credentials."""
        credentials = await self.auth(server, ctx.user, ctx.assertion)
        async with self._refused_as(server, ctx.user):
            async for message in self._client.resume(
                server,
                session_id=session_id,
                protocol_version=protocol_version,
                last_event_id=last_event_id,
                answer_id=answer_id,
                exchange=exchange,
                credentials=credentials,
            ):
                yield message

    async def listen(self, ctx: SessionContext, server: ServerSettings) -> AsyncGenerator[Message]:
        """The standalone stream of our session with `server` (what it sends unasked)."""
        if self.modern_only(server):
            return  # no session, so no stream: its list changes reach 2026-07-28 listeners only
        upstream = await self.ensure(ctx, server)
        if upstream.session_id is None:
            return  # a server without sessions has no stream to listen to
        credentials = await self.auth(server, ctx.user, ctx.assertion)
        async with self._refused_as(server, ctx.user):
            async for message in self._client.listen(
                server,
                session_id=upstream.session_id,
                protocol_version=upstream.protocol_version,
                credentials=credentials,
            ):
                yield message

    async def passthrough(
        self, server: ServerSettings, headers: Mapping[str, str], body: bytes, *, user: str, assertion: str | None
    ) -> RawReply:
        """A stateless request's bytes to `server` with this user's credentials, its reply as it comes.

        A 401 when the hub sent credentials is the upstream refusing *ours* for this user, not the
        client's token for the hub: passed through, it would send the IDE to sign in to the hub again.
        """
        credentials = await self.auth(server, user, assertion)
        reply = await self._client.passthrough(server, headers, body, credentials)
        if reply.status == 401 and self.sends_credentials(server):
            async for _ in reply.body:
                pass
            raise await self.rejected(server, user)
        return reply

    async def close_all(self, record: SessionRecord, servers: Mapping[str, ServerSettings]) -> None:
        async def close(name: str, upstream: UpstreamSession) -> None:
            if name in servers and upstream.session_id:
                await self._client.terminate(
                    servers[name],
                    session_id=upstream.session_id,
                    protocol_version=upstream.protocol_version,
                    credentials=await self.auth(servers[name], record.owner),
                )

        await asyncio.gather(*(close(n, u) for n, u in record.upstreams.items()), return_exceptions=True)
