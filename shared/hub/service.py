"""MCP Streamable HTTP transport for the hub (handshake era: 2025-03-26 .. 2025-11-25).

Stateless per instance: every request finds its session through `SessionCache` (Table Storage
behind a per-instance cache), so any instance in any region serves any request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import replace
from typing import Any, cast

from shared.audit.events import audit
from shared.background import BackgroundTasks
from shared.errors import (
    AuthError,
    ForbiddenOrigin,
    ForeignSession,
    HubError,
    InvalidRequest,
    MethodNotAllowed,
    NotAcceptable,
    SessionNotFound,
    SessionRequired,
    Unauthenticated,
    UnknownServer,
    UnsupportedMediaType,
    UnsupportedVersion,
    UpstreamError,
    UpstreamSessionExpired,
)
from shared.http import (
    JSON,
    SSE,
    HttpIn,
    HttpOut,
    accepts,
    error_reply,
    json_reply,
    request_error_reply,
    sse_reply,
)
from shared.hub.aggregate import Aggregator, hub_initialize_result
from shared.hub.asks import Asks
from shared.hub.assistant import PLAN, Assistant
from shared.hub.calls import Calls
from shared.hub.modern import ModernEndpoint, wants_modern
from shared.hub.relay import RelayCodec, RelayTarget
from shared.hub.relaying import relay_reply
from shared.hub.tool_search import ToolSearch, mode_for
from shared.hub.upstream_sessions import SessionContext, UpstreamSessions
from shared.identity.access import check_step_up, is_operator, stepped_up, visible_servers
from shared.identity.resource import MISSING, challenge
from shared.identity.tokens import TokenVerifier, bearer_token
from shared.mcp import jsonrpc, sse
from shared.mcp.jsonrpc import JsonObject, Message, Notification, Request, Response
from shared.mcp.versions import HANDSHAKE_VERSIONS, MODERN_VERSIONS, negotiate_handshake
from shared.principal import ANONYMOUS
from shared.redirects import loopback_origin
from shared.sessions.cache import SESSION_GONE, SessionCache
from shared.sessions.model import SessionRecord, new_session_id, well_formed_session_id
from shared.settings import AuthSettings, HubSettings, ServerSettings
from shared.upstreams.client import Exchange

log = logging.getLogger(__name__)

SESSION_HEADER = "mcp-session-id"
VERSION_HEADER = "mcp-protocol-version"


class HubService:
    def __init__(
        self,
        settings: HubSettings,
        servers: dict[str, ServerSettings],
        sessions: SessionCache,
        upstreams: UpstreamSessions,
        aggregator: Aggregator,
        relay: RelayCodec,
        *,
        auth: AuthSettings,
        verifier: TokenVerifier,
        keepalive_seconds: float = 15.0,
        clock: Callable[[], float],
        calls: Calls | None = None,
        asks: Asks,
        refused: Callable[[str], None] = lambda kind: None,
    ) -> None:
        self._settings = settings
        self._auth = auth
        self._verifier = verifier
        self._servers = servers
        self._sessions = sessions
        self._upstreams = upstreams
        self._aggregator = aggregator
        self._relay = relay
        self._keepalive = keepalive_seconds
        self._clock = clock
        self._background = BackgroundTasks()
        self._calls = calls or Calls(None, [], region=settings.region, clock=clock)
        self._search = ToolSearch()
        self._asks = asks
        self._refused = refused  # counts refusals worth watching (health samples, scope "refused:<kind>")
        self._assistant = Assistant(self._search, servers)
        self._modern = ModernEndpoint(
            servers,
            upstreams,
            aggregator,
            self._calls,
            self._search,
            list_ttl_seconds=settings.list_ttl_seconds,
            tool_search=settings.tool_search,
            assistant=self._assistant,
            auth_off=auth.mode == "off",
        )

    async def handle(self, request: HttpIn) -> HttpOut:
        try:
            self._check_origin(request)
            request = await self.authenticate(request)
            if request.route and (request.allowed is None or request.route not in request.allowed):
                if request.route in self._servers:
                    audit("access.denied", user=request.user, server=request.route)
                raise UnknownServer(f"no MCP server named {request.route!r} is available at this hub")
            if request.route:
                check_step_up(request.principal, self._servers[request.route])
            if request.method == "POST":
                return await self._post(request)
            if request.method in ("GET", "DELETE") and request.header(VERSION_HEADER) in MODERN_VERSIONS:
                raise MethodNotAllowed(
                    f"protocol {request.header(VERSION_HEADER)} has no {request.method}", allow="POST"
                )
            if request.method == "GET":
                return await self._get(request)
            if request.method == "DELETE":
                return await self._delete(request)
            raise MethodNotAllowed(f"{request.method} is not an MCP method; use POST", allow="GET, POST, DELETE")
        except AuthError as error:
            reply = error_reply(error)
            reply.headers["WWW-Authenticate"] = challenge(self._auth, error, request.origin, request.path)
            return reply
        except HubError as error:
            return error_reply(error)

    # ---- checks ------------------------------------------------------------------------------

    def challenge(self, request: HttpIn, error: AuthError) -> str:
        """The WWW-Authenticate value for refusing `request` with `error`."""
        return challenge(self._auth, error, request.origin, request.path)

    def _check_origin(self, request: HttpIn) -> None:
        origin = request.header("origin")
        if origin is None:
            return
        if origin in self._settings.allowed_origins:
            return
        if loopback_origin(origin):
            return
        audit("request.origin_refused", origin=origin[:200], route=request.route or "*")
        raise ForbiddenOrigin(f"Origin {origin!r} is not allowed (MCPHUB_ALLOWED_ORIGINS)")

    async def authenticate(self, request: HttpIn) -> HttpIn:
        """The request with its verified principal and the servers that principal may see."""
        if self._auth.mode == "off":
            principal, assertion = ANONYMOUS, None
        else:
            token = bearer_token(request.headers)
            if token is None:
                raise Unauthenticated(MISSING)
            principal = await self._verifier.verify(token, request.origin + request.path)
            assertion = token if principal.via == "entra" else None
        allowed = visible_servers(principal, self._servers)
        return replace(request, principal=principal, allowed=allowed, assertion=assertion)

    async def _session(self, request: HttpIn) -> SessionContext:
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

    # ---- POST --------------------------------------------------------------------------------

    async def _post(self, request: HttpIn) -> HttpOut:
        content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
        if content_type != JSON:
            raise UnsupportedMediaType("Content-Type must be application/json")
        accept = request.header("accept")
        modern_header = request.header(VERSION_HEADER) in MODERN_VERSIONS
        if not accepts(accept, JSON) or not (modern_header or accepts(accept, SSE)):
            raise NotAcceptable("Accept must list both application/json and text/event-stream")
        decoded = jsonrpc.decode_body(request.body)
        try:
            message = jsonrpc.parse_message(decoded)
        except HubError as error:
            return error_reply(error, jsonrpc.peek_id(decoded))
        if wants_modern(request, message, decoded):
            if request.route:
                return await self._modern.passthrough(request, message)
            return await self._modern.handle(request, message)
        if isinstance(message, Request) and message.method == "initialize":
            return await self._initialize(request, message)
        ctx = await self._session(request)
        if isinstance(message, Notification):
            await self._client_notification(ctx, request, message)
            return HttpOut(202)
        if isinstance(message, Response):
            await self._client_response(ctx, message)
            return HttpOut(202)
        try:
            return await self._request(ctx, request, message)
        except AuthError:
            raise  # answered at HTTP level with a challenge, not as a JSON-RPC error
        except HubError as error:
            return request_error_reply(error, message)

    async def _initialize(self, request: HttpIn, message: Request) -> HttpOut:
        params = message.params
        capabilities = cast(dict[str, Any], params.get("capabilities") or {})
        client_info = cast(dict[str, Any], params.get("clientInfo") or {})
        if not isinstance(params.get("protocolVersion"), str):
            return error_reply(InvalidRequest("initialize needs params.protocolVersion"), message.id)
        session_id = new_session_id()
        if request.route:
            server = self._servers[request.route]
            try:
                upstream, response = await self._upstreams.open(
                    server, params, message.id, user=request.user, assertion=request.assertion
                )
            except UpstreamError as error:
                return error_reply(error, message.id)
            if response.error is not None:
                return json_reply(response.to_wire())
            record = SessionRecord(
                session_id,
                request.route,
                request.user,
                upstream.protocol_version,
                capabilities,
                client_info,
                {server.name: upstream},
            )
            await self._sessions.create(record)
            return json_reply(response.to_wire(), headers={"Mcp-Session-Id": session_id})
        version = negotiate_handshake(params.get("protocolVersion"))
        record = SessionRecord(session_id, "", request.user, version, capabilities, client_info)
        await self._sessions.create(record)
        result = Response(message.id, hub_initialize_result(version))
        return json_reply(result.to_wire(), headers={"Mcp-Session-Id": session_id})

    async def _request(self, ctx: SessionContext, request: HttpIn, message: Request) -> HttpOut:
        session = ctx.record.session_id
        if request.route:
            server = self._servers[request.route]
            await self._calls.admit(request.principal, server, message, session)
            exchange = Exchange()
            upstream = self._upstreams.forward(ctx, server, message, exchange)
            watched = self._calls.watch(request.principal, server, message, upstream, session)
            return await self._relay_stream(ctx, server, message, watched, exchange)
        method = message.method
        if method == "ping":
            return json_reply(Response(message.id, {}).to_wire())
        mode = mode_for(dict(request.query), self._settings.tool_search)
        if method in ("tools/list", "prompts/list", "resources/list", "resources/templates/list"):
            result = await self._aggregator.list(ctx, method)
            if method == "tools/list":
                result = self._search.decorate(self._assistant.offer(result, self._operates(request)), mode)
            return json_reply(Response(message.id, result).to_wire())
        if method == "logging/setLevel":
            await self._aggregator.broadcast(ctx, message)
            return json_reply(Response(message.id, {}).to_wire())
        if method == "tools/call" and self._assistant.offers(message.params.get("name")) and self._operates(request):
            return await self._assisted(ctx, request, message)
        handled = await self._search.intercept(message, mode, lambda: self._aggregator.list(ctx, "tools/list"))
        if not isinstance(handled, Request):
            return json_reply(Response(message.id, handled).to_wire())
        message = handled
        server, routed = await self._aggregator.route(ctx, message)
        await self._calls.admit(request.principal, server, routed, session)
        stream = self._aggregator.stream(ctx, server, routed)
        upstream = self._calls.watch(request.principal, server, routed, stream, session)
        return await self._relay_stream(ctx, server, message, upstream)

    def _operates(self, request: HttpIn) -> bool:
        return is_operator(request.principal, auth_off=self._auth.mode == "off")

    async def _assisted(self, ctx: SessionContext, request: HttpIn, message: Request) -> HttpOut:
        """One of the hub's own tools: it may ask the client's model (sampling) before it answers."""
        audit("assistant.call", user=request.user, tool=message.params.get("name"))
        replies = self._assistant.stream(
            message,
            tools=lambda: self._aggregator.tools(ctx),
            asks=self._asks,
            hub_session=ctx.record.session_id,
            can_sample="sampling" in ctx.record.client_capabilities,
        )
        return await relay_reply(message, replies, lambda item: item, on_abandon=lambda: None)

    async def plan_workflow(self, request: HttpIn, goal: str) -> JsonObject:
        """`hub_plan_workflow` for an authenticated HTTP caller (the operator page): search alone."""
        ctx = self._modern.context(request)
        call = Request("plan", "tools/call", {"name": PLAN, "arguments": {"goal": goal}})
        result = await self._assistant.call(call, tools=lambda: self._aggregator.tools(ctx), sample=None)
        return cast(JsonObject, result["structuredContent"])

    async def _relay_stream(
        self,
        ctx: SessionContext,
        server: ServerSettings,
        request: Request,
        upstream: AsyncGenerator[Message],
        mirror: Exchange | None = None,
    ) -> HttpOut:
        """Relay one call; with `mirror` (transparent `/mcp/{server}`) keep the upstream's SSE form."""

        def abandon() -> None:
            # The client went away mid-call: tell the upstream to stop working on it.
            cancel = Notification("notifications/cancelled", {"requestId": request.id, "reason": "client disconnected"})
            self._background.spawn(self._upstreams.deliver(ctx, server, cancel))

        return await relay_reply(
            request,
            upstream,
            self._outbound(ctx, server),
            on_abandon=abandon,
            force_stream=lambda: mirror is not None and mirror.streamed,
        )

    def _outbound(self, ctx: SessionContext, server: ServerSettings) -> Callable[[Message], Message]:
        session_id = ctx.record.session_id
        aggregated = not ctx.record.route

        def rewrite(message: Message) -> Message:
            if isinstance(message, Request):
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
        server = self._servers[target.server]
        upstream = ctx.record.upstreams.get(server.name)
        session_id = (
            target.upstream_session
            if target.upstream_session is not None
            else (upstream.session_id if upstream else None)
        )
        version = upstream.protocol_version if upstream else HANDSHAKE_VERSIONS[-1]
        answer = Response(target.upstream_id, message.result, message.error)
        try:
            credentials = await self._upstreams.auth(server, ctx.user, ctx.assertion)
            async for _ in self._upstreams.client.send(
                server, answer, session_id=session_id, protocol_version=version, credentials=credentials
            ):
                pass
        except UpstreamSessionExpired:
            log.info("dropped an answer for upstream %r: its session ended", server.name)

    # ---- GET and DELETE ----------------------------------------------------------------------

    async def _get(self, request: HttpIn) -> HttpOut:
        if not accepts(request.header("accept"), SSE):
            raise NotAcceptable("GET opens an event stream: Accept must list text/event-stream")
        ctx = await self._session(request)
        servers = (
            [self._servers[request.route]]
            if request.route
            else [s for s in self._aggregator.visible(ctx) if stepped_up(request.principal, s)]
        )
        return sse_reply(self._listen(ctx, servers))

    async def _listen(self, ctx: SessionContext, servers: list[ServerSettings]) -> AsyncIterator[bytes]:
        queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=256)

        async def pump(server: ServerSettings) -> None:
            rewrite = self._outbound(ctx, server)
            try:
                upstream = await self._upstreams.ensure(ctx, server)
                assert upstream.session_id is not None
                async for message in self._upstreams.client.listen(
                    server,
                    session_id=upstream.session_id,
                    protocol_version=upstream.protocol_version,
                    credentials=await self._upstreams.auth(server, ctx.user, ctx.assertion),
                ):
                    await queue.put(sse.encode_event(jsonrpc.dumps(rewrite(message).to_wire())))
            except (UpstreamError, AssertionError) as error:
                log.info("standalone stream of upstream %r ended: %s", server.name, error)

        tasks = [asyncio.ensure_future(pump(server)) for server in servers]
        try:
            while True:
                try:
                    yield await asyncio.wait_for(queue.get(), self._keepalive)
                except TimeoutError:
                    yield sse.KEEPALIVE
        finally:
            for task in tasks:
                task.cancel()

    async def _delete(self, request: HttpIn) -> HttpOut:
        ctx = await self._session(request)
        await self._sessions.delete(ctx.record.session_id, request.user)
        await self._upstreams.close_all(ctx.record, self._servers)
        return HttpOut(200)
