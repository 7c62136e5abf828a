"""The handshake era (2025-03-26 .. 2025-11-25): framing only.

`initialize` creates a session stored in Table Storage behind a per-instance cache, so any
instance in any region serves any request of it; GET opens the notification stream, DELETE ends
the session. Requests go through the shared pipeline; upstream requests to the client (sampling,
elicitation, roots) reach it with a signed relay ID, and its answers find their way back from any
instance.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, cast

from shared.audit.events import audit
from shared.errors import (
    ForeignSession,
    HubError,
    InvalidRequest,
    NotAcceptable,
    SessionNotFound,
    SessionRequired,
    UnsupportedVersion,
    UpstreamError,
    UpstreamRefused,
)
from shared.http import SSE, HttpIn, HttpOut, accepts, error_reply, json_reply, sse_reply
from shared.hub.aggregate import hub_initialize_result
from shared.hub.pipeline import Call, Handler, Pipeline, Relayed
from shared.hub.relay import RelayCodec, RelayTarget
from shared.hub.relaying import Rewrite
from shared.hub.upstream_eras import without_streams
from shared.hub.upstream_sessions import SessionContext
from shared.identity.access import stepped_up
from shared.mcp import jsonrpc, sse
from shared.mcp.jsonrpc import JsonObject, Message, Notification, Request, Response
from shared.mcp.versions import HANDSHAKE_VERSIONS, SERVER_INFO_META_KEY, negotiate_handshake
from shared.sessions.cache import SESSION_GONE, SessionCache
from shared.sessions.model import SessionRecord, well_formed_session_id
from shared.settings import ServerSettings

log = logging.getLogger(__name__)

SESSION_HEADER = "mcp-session-id"
VERSION_HEADER = "mcp-protocol-version"


class HandshakeEra:
    modern = False

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        sessions: SessionCache,
        relay: RelayCodec,
        refused: Callable[[str], None],
    ) -> None:
        self._pipeline = pipeline
        self._servers = pipeline.servers
        self._sessions = sessions
        self._upstreams = pipeline.upstreams
        self._aggregator = pipeline.aggregator
        self._relay = relay
        self._calls = pipeline.calls
        self._asks = pipeline.asks
        self._keepalive = pipeline.keepalive_seconds
        self._streams = pipeline.streams
        self._refused = refused  # counts refusals worth watching (health samples, scope "refused:<kind>")
        self._background = pipeline.background
        self.methods: Mapping[str, Handler] = pipeline.methods(self)

    # ---- POST --------------------------------------------------------------------------------

    async def post(self, request: HttpIn, message: Message) -> HttpOut:
        if isinstance(message, Request) and message.method == "initialize":
            return await self._initialize(request, message)
        ctx = await self.session(request)
        if isinstance(message, Notification):
            await self._client_notification(ctx, request, message)
            return HttpOut(202)
        if isinstance(message, Response):
            await self._client_response(ctx, message)
            return HttpOut(202)
        call = Call(
            request,
            message,
            ctx,
            ctx.record.client_capabilities,
            self._pipeline.mode(request),
            self._pipeline.operates(request),
            ctx.record.session_id,
        )
        return await self._pipeline.run(call, self)

    async def session(self, request: HttpIn) -> SessionContext:
        session_id = request.header(SESSION_HEADER)
        if not session_id:
            raise SessionRequired("Mcp-Session-Id header is required; send initialize first to get one")
        if not well_formed_session_id(session_id):
            # Never issued by this hub: answered at once, before any storage access, and watched.
            audit("session.malformed_id", user=request.user, route=request.route or "*", length=len(session_id))
            self._refused("session")
            await self._calls.admit_refusal(request.principal, request.route)
            raise SessionNotFound(SESSION_GONE)
        try:
            record = await self._sessions.load(session_id, request.user)
        except ForeignSession:
            audit("session.foreign", user=request.user, route=request.route or "*", session=session_id[:8])
            self._refused("session")
            raise
        if record.route != request.route:
            raise SessionNotFound(SESSION_GONE)
        version = request.header(VERSION_HEADER)
        if version is not None and version not in HANDSHAKE_VERSIONS:
            raise UnsupportedVersion(
                f"MCP-Protocol-Version {version!r} is not supported; supported: {', '.join(HANDSHAKE_VERSIONS)}"
            )
        return SessionContext(record, allowed=request.allowed, assertion=request.assertion, principal=request.principal)

    async def _initialize(self, request: HttpIn, message: Request) -> HttpOut:
        params = message.params
        capabilities = cast(dict[str, Any], params.get("capabilities") or {})
        client_info = cast(dict[str, Any], params.get("clientInfo") or {})
        if not isinstance(params.get("protocolVersion"), str):
            return error_reply(InvalidRequest("initialize needs params.protocolVersion"), message.id)
        session_id = self._sessions.new_id()
        version = negotiate_handshake(params.get("protocolVersion"))
        if request.route:
            server = self._servers[request.route]
            try:
                upstream, response = await self._upstreams.open(
                    server, params, message.id, user=request.user, assertion=request.assertion
                )
            except UpstreamRefused as error:
                if not await self._bridges(server):
                    return error_reply(error, message.id)
            except UpstreamError as error:
                return error_reply(error, message.id)
            else:
                if response.error is None:
                    upstreams = {server.name: upstream}
                    record = SessionRecord(
                        session_id,
                        request.route,
                        request.user,
                        upstream.protocol_version,
                        capabilities,
                        client_info,
                        upstreams,
                    )
                    await self._sessions.create(record)
                    return json_reply(response.to_wire(), headers={"Mcp-Session-Id": session_id})
                if not await self._bridges(server):
                    return json_reply(response.to_wire())
        # The hub answers: on /mcp, or on a route whose upstream serves 2026-07-28 only (BRIDGE_ERAS).
        result = self._bridged_result(self._servers[request.route], version) if request.route else None
        record = SessionRecord(session_id, request.route, request.user, version, capabilities, client_info)
        await self._sessions.create(record)
        answer = Response(message.id, result if result is not None else hub_initialize_result(version))
        return json_reply(answer.to_wire(), headers={"Mcp-Session-Id": session_id})

    async def _bridges(self, server: ServerSettings) -> bool:
        """After `server` refused the handshake: whether the hub bridges it (BRIDGE_ERAS, 2026-07-28)."""
        return server.bridge_eras and await self._upstreams.handshake_refused(server)

    def _bridged_result(self, server: ServerSettings, version: str) -> JsonObject:
        """`/mcp/{server}` with BRIDGE_ERAS, to an upstream of 2026-07-28 only: the initialize answer,
        from the upstream's server/discover (the upstream is reached statelessly afterwards)."""
        discovered = self._upstreams.discovered(server) or {}
        meta = cast(dict[str, Any], discovered.get("_meta") or {})
        result: JsonObject = {
            "protocolVersion": version,
            "capabilities": without_streams(cast(JsonObject, discovered.get("capabilities") or {})),
            "serverInfo": meta.get(SERVER_INFO_META_KEY) or {"name": server.name, "version": ""},
        }
        if isinstance(discovered.get("instructions"), str):
            result["instructions"] = discovered["instructions"]
        return result

    async def _client_notification(self, ctx: SessionContext, request: HttpIn, message: Notification) -> None:
        if message.method == "notifications/initialized":
            return
        targets = (
            [self._servers[request.route]]
            if request.route
            else [self._servers[name] for name in ctx.record.upstreams if name in self._servers]
        )
        await asyncio.gather(*(self._upstreams.deliver(ctx, server, message) for server in targets))

    async def _client_response(self, ctx: SessionContext, message: Response) -> None:
        if self._asks.owns(message.id):
            await self._asks.deliver(ctx.record.session_id, message)
            return
        target = self._relay.decode(ctx.record.session_id, message.id) if message.id is not None else None
        if target is None or target.server not in self._servers:
            raise InvalidRequest("this response answers no request the hub relayed to this session")
        answer = Response(target.upstream_id, message.result, message.error)
        await self._upstreams.answer(ctx, self._servers[target.server], answer, target.upstream_session)

    # ---- framing -----------------------------------------------------------------------------

    def answer(self, call: Call, result: JsonObject) -> HttpOut:
        return json_reply(Response(call.message.id, result).to_wire())

    def outgoing(self, call: Call, routed: Request) -> Request:
        return routed  # the client's own ID: the upstream session is this client's alone

    def rewrite(self, call: Call, server: ServerSettings | None, sent: Request) -> Rewrite:
        return _unchanged if server is None else self._outbound(call.ctx, server)

    def _outbound(self, ctx: SessionContext, server: ServerSettings) -> Rewrite:
        session_id = ctx.record.session_id
        aggregated = not ctx.record.route

        def rewrite(message: Message) -> Message:
            if isinstance(message, Request) and not self._asks.owns(message.id):
                # Its own ID (a relay ID) unless it is the hub's: a 2026-07-28 upstream's input
                # request, asked by the hub (shared.hub.rounds).
                upstream = ctx.record.upstreams.get(server.name)
                target = RelayTarget(server.name, upstream.session_id if upstream else None, message.id)
                return Request(self._relay.encode(session_id, target), message.method, message.params)
            if isinstance(message, Notification) and message.method == "notifications/cancelled":
                upstream = ctx.record.upstreams.get(server.name)
                original = message.params.get("requestId")
                if isinstance(original, str | int):
                    target = RelayTarget(server.name, upstream.session_id if upstream else None, original)
                    relay_id = self._relay.encode(session_id, target)
                    return Notification(message.method, {**message.params, "requestId": relay_id})
            return self._aggregator.outbound(server, message) if aggregated else message

        return rewrite

    def relayed(self, call: Call, relayed: Relayed) -> Relayed:
        return relayed  # upstream requests reach the client as requests, with relay IDs (rewrite)

    def abandon(self, call: Call, server: ServerSettings, sent: Request) -> None:
        # The client went away mid-call: tell the upstream to stop working on it.
        cancel = Notification("notifications/cancelled", {"requestId": sent.id, "reason": "client disconnected"})
        self._background.spawn(self._upstreams.deliver(call.ctx, server, cancel))

    # ---- GET and DELETE ----------------------------------------------------------------------

    async def get(self, request: HttpIn) -> HttpOut:
        if not accepts(request.header("accept"), SSE):
            raise NotAcceptable("GET opens an event stream: Accept must list text/event-stream")
        ctx = await self.session(request)
        servers = (
            [self._servers[request.route]]
            if request.route
            else [s for s in self._aggregator.visible(ctx) if stepped_up(request.principal, s)]
        )
        return sse_reply(self._listen(ctx, servers))

    def _listen(self, ctx: SessionContext, servers: list[ServerSettings]) -> AsyncIterator[bytes]:
        def pump(server: ServerSettings) -> sse.Pump:
            async def run(queue: asyncio.Queue[bytes]) -> None:
                rewrite = self._outbound(ctx, server)
                try:
                    async for message in self._upstreams.listen(ctx, server):
                        kept = rewrite(message)
                        if kept is not None:
                            await queue.put(sse.encode_event(jsonrpc.dumps(kept.to_wire())))
                except HubError as error:
                    log.info("standalone stream of upstream %r ended: %s", server.name, error.message)

            return run

        return sse.merged([pump(server) for server in servers], self._keepalive, self._streams)

    async def delete(self, request: HttpIn) -> HttpOut:
        ctx = await self.session(request)
        await self._sessions.delete(ctx.record.session_id, request.user)
        await self._upstreams.close_all(ctx.record, self._servers)
        return HttpOut(200)


def _unchanged(message: Message) -> Message:
    return message
