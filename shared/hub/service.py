"""MCP Streamable HTTP for the hub: the HTTP-level steps every request shares, then its era.

Origin, authentication and access (which servers the caller may see, step-up) run here for both
eras; the body decides the era (`handshake.py`, `stateless.py`), which frames the request for the
one pipeline (`pipeline.py`). Any instance in any region serves any request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import cast

from shared.audit.events import audit
from shared.errors import (
    AuthError,
    ForbiddenOrigin,
    HubError,
    MethodNotAllowed,
    NotAcceptable,
    Unauthenticated,
    UnknownServer,
    UnsupportedMediaType,
)
from shared.http import JSON, SSE, HttpIn, HttpOut, accepts, error_reply
from shared.hub.aggregate import Aggregator
from shared.hub.asks import Asks
from shared.hub.assistant import PLAN, Assistant
from shared.hub.calls import Calls
from shared.hub.handshake import VERSION_HEADER, HandshakeEra
from shared.hub.pipeline import Pipeline
from shared.hub.relay import RelayCodec
from shared.hub.stateless import StatelessEra, wants_modern
from shared.hub.tool_search import ToolSearch
from shared.hub.upstream_sessions import UpstreamSessions
from shared.identity.access import check_step_up, visible_servers
from shared.identity.resource import MISSING, challenge
from shared.identity.tokens import TokenVerifier, bearer_token
from shared.mcp import jsonrpc
from shared.mcp.jsonrpc import JsonObject, Request
from shared.mcp.sse import OpenStreams
from shared.mcp.versions import MODERN_VERSIONS
from shared.plugins.chain import NO_PLUGINS, PluginChain
from shared.principal import ANONYMOUS
from shared.redirects import loopback_origin
from shared.sessions.cache import SessionCache
from shared.settings import AuthSettings, HubSettings, ServerSettings


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
        calls: Calls,
        asks: Asks,
        refused: Callable[[str], None] = lambda kind: None,
        plugins: PluginChain = NO_PLUGINS,
    ) -> None:
        self._settings = settings
        self.plugins = plugins
        self._auth = auth
        self._verifier = verifier
        self._servers = servers
        self._aggregator = aggregator
        search = ToolSearch()
        self._assistant = Assistant(search, servers)
        self._pipeline = Pipeline(
            servers=servers,
            upstreams=upstreams,
            aggregator=aggregator,
            calls=calls,
            search=search,
            assistant=self._assistant,
            asks=asks,
            auth_off=auth.mode == "off",
            hub_tools=settings.hub_tools,
            tool_search=settings.tool_search,
            keepalive_seconds=keepalive_seconds,
            plugins=plugins,
        )
        self._handshake = HandshakeEra(self._pipeline, sessions=sessions, relay=relay, refused=refused)
        self._stateless = StatelessEra(self._pipeline, list_ttl_seconds=settings.list_ttl_seconds)

    @property
    def streams(self) -> OpenStreams:
        """The long-lived streams this instance serves now (and the most at once)."""
        return self._pipeline.streams

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
                return await self._handshake.get(request)
            if request.method == "DELETE":
                return await self._handshake.delete(request)
            raise MethodNotAllowed(f"{request.method} is not an MCP method; use POST", allow="GET, POST, DELETE")
        except AuthError as error:
            reply = error_reply(error)
            reply.headers["WWW-Authenticate"] = challenge(self._auth, error, request.origin, request.path)
            return reply
        except HubError as error:
            return error_reply(error)

    async def drain(self) -> None:
        """Wait for what was sent upstream after answering, and end the exchanges the bridge still
        holds (shutdown: their clients' retries then fail clearly on another instance)."""
        await self._stateless.bridge.aclose()
        await self._pipeline.background.drain()

    def bridge_held(self) -> int:
        """Upstream exchanges this instance holds for 2026-07-28 clients' retries."""
        return self._stateless.bridge.held

    def bridge_store_operations(self) -> int:
        """Table operations the bridge's hand-overs have cost on this instance so far."""
        return self._stateless.bridge.store_operations

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
        if not wants_modern(request, message, decoded):
            return await self._handshake.post(request, message)
        if request.route:
            return await self._stateless.route(request, message)
        return await self._stateless.post(request, message)

    async def plan_workflow(self, request: HttpIn, goal: str) -> JsonObject:
        """`hub_plan_workflow` for an authenticated HTTP caller (the operator page): search alone."""
        ctx = self._stateless.context(request)
        call = Request("plan", "tools/call", {"name": PLAN, "arguments": {"goal": goal}})
        result = await self._assistant.call(call, tools=lambda: self._aggregator.tools(ctx), sample=None)
        return cast(JsonObject, result["structuredContent"])
