"""The stateless 2026-07-28 era: no handshake, no session; each POST carries its own envelope.

`/mcp/{server}` relays the client's bytes to the upstream and its answer back unchanged.
`/mcp` answers `server/discover` and the lists itself and routes calls like the handshake era,
over upstream sessions pooled per instance and user (any instance can open its own, so nothing
about them needs to be shared). The era has no server-to-client requests: an upstream that asks
one anyway gets an error back instead of waiting for an answer that cannot come.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from shared.background import BackgroundTasks
from shared.errors import AuthError, HubError, InvalidRequest, MethodNotFound
from shared.http import HttpIn, HttpOut, error_reply, json_reply, request_error_reply
from shared.hub.aggregate import HUB_CAPABILITIES, Aggregator
from shared.hub.assistant import Assistant
from shared.hub.calls import Calls
from shared.hub.relaying import relay_reply
from shared.hub.tool_search import Mode, ToolSearch, mode_for
from shared.hub.upstream_sessions import HUB_INFO, SessionContext, UpstreamSessions
from shared.identity.access import is_operator
from shared.mcp import envelope
from shared.mcp.jsonrpc import JsonObject, Message, Notification, Request, Response
from shared.mcp.versions import LATEST_HANDSHAKE, MODERN_VERSIONS
from shared.sessions.model import SessionRecord
from shared.settings import ServerSettings

log = logging.getLogger(__name__)

SERVER_INFO_META_KEY = "io.modelcontextprotocol/serverInfo"
LOG_LEVEL_META_KEY = "io.modelcontextprotocol/logLevel"
_NO_BACK_CHANNEL = -32601


class ModernEndpoint:
    def __init__(
        self,
        servers: dict[str, ServerSettings],
        upstreams: UpstreamSessions,
        aggregator: Aggregator,
        calls: Calls,
        search: ToolSearch,
        *,
        list_ttl_seconds: float,
        tool_search: Mode = "off",
        assistant: Assistant,
        auth_off: bool,
    ) -> None:
        self._assistant = assistant
        self._auth_off = auth_off
        self._calls = calls
        self._search = search
        self._tool_search: Mode = tool_search
        self._servers = servers
        self._upstreams = upstreams
        self._aggregator = aggregator
        self._ttl_ms = int(list_ttl_seconds * 1000)
        self._pools: dict[tuple[str, frozenset[str] | None], SessionContext] = {}
        self._background = BackgroundTasks()
        self._ids = itertools.count(1)

    async def passthrough(self, request: HttpIn, message: Message) -> HttpOut:
        server = self._servers[request.route]
        request_id = message.id if isinstance(message, Request) else None
        try:
            if isinstance(message, Request):
                await self._calls.admit(request.principal, server, message)
            credentials = await self._upstreams.auth(server, request.user, request.assertion)
        except HubError as error:
            return error_reply(error, request_id, modern=True)
        started = time.perf_counter()
        reply = await self._upstreams.client.passthrough(server, request.headers, request.body, credentials)
        if isinstance(message, Request):
            self._calls.passed_through(request.principal, server, message, reply.status, time.perf_counter() - started)
        if reply.status == 401 and self._upstreams.sends_credentials(server):
            # The upstream refused *our* credential for this user, not the client's token for the hub:
            # a 401 passed through would send the IDE to sign in to the hub again.
            await _discard(reply.body)
            return error_reply(await self._upstreams.rejected(server, request.user), request_id, modern=True)
        return HttpOut(reply.status, reply.headers, stream=reply.body)

    async def handle(self, request: HttpIn, message: Message) -> HttpOut:
        if isinstance(message, Notification):
            return HttpOut(202)  # the era defines no client notifications over HTTP; cancelling = closing
        if isinstance(message, Response):
            raise InvalidRequest("2026-07-28 has no server-to-client requests, so there is nothing to answer")
        try:
            env = envelope.classify(message.method, message.params, request.headers)
            result = await self._dispatch(request, message, env)
        except AuthError:
            raise  # answered at HTTP level with a challenge, not as a JSON-RPC error
        except HubError as error:
            return request_error_reply(error, message, modern=True)
        return result

    async def _dispatch(self, request: HttpIn, message: Request, env: envelope.Envelope) -> HttpOut:
        method = message.method
        if method == "server/discover":
            return self._result(message, self.discover_result())
        if method == "ping":
            return self._result(message, {})
        ctx = self.context(request)
        mode = mode_for(dict(request.query), self._tool_search)
        operates = is_operator(request.principal, auth_off=self._auth_off)
        if method in ("tools/list", "prompts/list", "resources/list", "resources/templates/list"):
            listed = await self._aggregator.list(ctx, method)
            if method == "tools/list":
                listed = self._search.decorate(self._assistant.offer(listed, operates), mode)
            return self._result(message, {**listed, "ttlMs": self._ttl_ms, "cacheScope": "private"})
        if method in ("initialize", "logging/setLevel", "resources/subscribe", "resources/unsubscribe"):
            raise MethodNotFound(f"method {method!r} does not exist in protocol {env.protocol_version}")
        if method == "tools/call" and operates and self._assistant.offers(message.params.get("name")):
            # No back channel in this era: the hub's own tools answer with search alone.
            answer = await self._assistant.call(message, tools=lambda: self._aggregator.tools(ctx), sample=None)
            return self._result(message, answer)
        handled = await self._search.intercept(message, mode, lambda: self._aggregator.list(ctx, "tools/list"))
        if not isinstance(handled, Request):
            return self._result(message, handled)
        message = handled
        server, routed = await self._aggregator.route(ctx, message)
        await self._calls.admit(request.principal, server, routed)
        wants_logs = isinstance(message.params.get("_meta"), dict) and LOG_LEVEL_META_KEY in message.params["_meta"]
        # Every client of this user shares the pooled upstream session, and each numbers its own
        # requests: give the upstream an ID unique on that session, and the client its own back.
        pooled = Request(f"mcphub-{next(self._ids)}", routed.method, routed.params)
        upstream = self._calls.watch(request.principal, server, routed, self._upstreams.forward(ctx, server, pooled))

        def rewrite(item: Message) -> Message | None:
            if isinstance(item, Response) and item.id == pooled.id:
                item = Response(message.id, item.result, item.error)
            return self._outbound(ctx, server, item, wants_logs)

        return await relay_reply(
            message, upstream, rewrite, on_abandon=lambda: self._cancel(ctx, server, pooled), modern=True
        )

    def context(self, request: HttpIn) -> SessionContext:
        """The caller's pooled upstream sessions, carrying their latest token and principal."""
        ctx = self._pool(request.user, request.allowed)
        ctx.assertion = request.assertion  # the latest token of this user (used for on-behalf-of only)
        ctx.principal = request.principal
        return ctx

    def discover_result(self) -> JsonObject:
        return {
            "supportedVersions": list(MODERN_VERSIONS),
            "capabilities": {k: v for k, v in HUB_CAPABILITIES.items() if k != "logging"},
            "instructions": "Tools and prompts are named <server>__<name>; resources are mcphub://<server>/<uri>.",
            "ttlMs": self._ttl_ms,
            "cacheScope": "public",
        }

    def _result(self, message: Request, result: JsonObject) -> HttpOut:
        meta = dict(result.get("_meta") or {})
        meta[SERVER_INFO_META_KEY] = HUB_INFO
        return json_reply(Response(message.id, {**result, "resultType": "complete", "_meta": meta}).to_wire())

    def _pool(self, user: str, allowed: frozenset[str] | None) -> SessionContext:
        """This instance's upstream sessions for `user` (no client capabilities: nothing to relay).

        Keyed by what the user may see too, so a changed role takes effect with the next token."""
        ctx = self._pools.get((user, allowed))
        if ctx is None:
            record = SessionRecord(f"pool:{user}", "", user, LATEST_HANDSHAKE, {}, dict(HUB_INFO))
            ctx = self._pools[(user, allowed)] = SessionContext(record, persistent=False, allowed=allowed)
        return ctx

    def _outbound(self, ctx: SessionContext, server: ServerSettings, item: Message, wants_logs: bool) -> Message | None:
        if isinstance(item, Request):
            refusal = Response(item.id, error={"code": _NO_BACK_CHANNEL, "message": "the client cannot be asked"})
            self._background.spawn(self._upstreams.deliver(ctx, server, refusal))
            return None
        if isinstance(item, Notification) and item.method == "notifications/message" and not wants_logs:
            return None
        if isinstance(item, Response) and item.result is not None and "resultType" not in item.result:
            item = Response(item.id, {**item.result, "resultType": "complete"})
        return self._aggregator.outbound(server, item)

    def _cancel(self, ctx: SessionContext, server: ServerSettings, message: Request) -> None:
        notice = Notification("notifications/cancelled", {"requestId": message.id, "reason": "client disconnected"})
        self._background.spawn(self._upstreams.deliver(ctx, server, notice))


def wants_modern(request: HttpIn, message: Message, decoded: Any) -> bool:
    """Which era a POST belongs to: the version header decides, else a modern `_meta` envelope does."""
    header = request.header("mcp-protocol-version")
    if header is not None:
        return header in MODERN_VERSIONS or (
            request.header("mcp-session-id") is None
            and isinstance(message, Request)
            and message.method != "initialize"
            and envelope.meta_version(message.params) is not None
        )
    return isinstance(message, Request) and envelope.meta_version(message.params) is not None


async def _discard(body: AsyncIterator[bytes]) -> None:
    async for _ in body:
        pass
