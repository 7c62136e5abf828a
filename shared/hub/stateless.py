"""The stateless 2026-07-28 era: framing only. No handshake, no session; each POST carries its envelope.

`/mcp/{server}` relays the client's bytes to the upstream and its answer back unchanged.
`/mcp` runs the shared pipeline. An upstream that speaks 2026-07-28 too gets each request with
the caller's own envelope, statelessly, so what it asks the client (`input_required` results)
passes back and the client's retry finds it on any instance. Older upstreams are reached over
sessions pooled per instance, user and the client capabilities they need (any instance can open
its own, so nothing about them needs to be shared). The era has no back channel: what such an
upstream asks the client (sampling, elicitation, roots) during a call goes to the client as an
`input_required` result, and its retry carries the answers back (`bridge.py`); a request the
client did not declare it can answer gets -32021 naming the capability.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncGenerator, Mapping
from typing import cast

from shared.errors import HubError, InvalidRequest, MethodNotFound, UpstreamError
from shared.http import HttpIn, HttpOut, error_reply, json_reply
from shared.hub.aggregate import capability_shape
from shared.hub.bridge import BRIDGED, Bridge, declared_back_channel
from shared.hub.pipeline import LISTS, Answered, Call, Handler, Outcome, Pipeline, Relayed, Streamed
from shared.hub.relaying import Rewrite
from shared.hub.subscriptions import Subscriptions
from shared.hub.upstream_eras import without_streams
from shared.hub.upstream_sessions import HUB_INFO, SessionContext
from shared.mcp import envelope
from shared.mcp.jsonrpc import JsonObject, Message, Notification, Request, Response
from shared.mcp.versions import LATEST_HANDSHAKE, MODERN_VERSIONS, SERVER_INFO_META_KEY
from shared.sessions.model import SessionRecord
from shared.settings import ServerSettings

LOG_LEVEL_META_KEY = "io.modelcontextprotocol/logLevel"
# The era's results a client may cache, with the hint it needs (lists and reads are per user).
_CACHEABLE = (*LISTS, "resources/read")
# What this era advertises: changes and resource updates arrive on `subscriptions/listen`.
CAPABILITIES: JsonObject = {
    "tools": {"listChanged": True},
    "prompts": {"listChanged": True},
    "resources": {"listChanged": True, "subscribe": True},
    "completions": {},
}


class StatelessEra:
    modern = True

    def __init__(self, pipeline: Pipeline, *, list_ttl_seconds: float) -> None:
        self._pipeline = pipeline
        self._servers = pipeline.servers
        self._upstreams = pipeline.upstreams
        self._aggregator = pipeline.aggregator
        self._calls = pipeline.calls
        self._background = pipeline.background
        self._subscriptions = Subscriptions(
            pipeline.upstreams,
            pipeline.aggregator,
            keepalive_seconds=pipeline.keepalive_seconds,
            streams=pipeline.streams,
        )
        self._ttl_ms = int(list_ttl_seconds * 1000)
        self._pools: dict[tuple[str, frozenset[str] | None, str], SessionContext] = {}
        asks = pipeline.asks
        self.bridge = Bridge(
            asks.key, asks.store, pipeline.upstreams, clock=asks.clock, timeout_seconds=asks.timeout_seconds
        )
        self._ids = itertools.count(1)
        self._route_methods: Mapping[str, Handler] = {
            "server/discover": self._route_discover,
            "subscriptions/listen": self._route_unserved,
        }
        self.methods: Mapping[str, Handler] = pipeline.methods(
            self,
            add={"server/discover": self._discover, "subscriptions/listen": self._listen},
            remove=("ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe"),
        )

    async def passthrough(self, request: HttpIn, message: Message) -> HttpOut:
        """`/mcp/{server}`: the client's bytes to the upstream, and its answer back unchanged."""
        server = self._servers[request.route]
        request_id = message.id if isinstance(message, Request) else None
        started = time.perf_counter()
        try:
            if isinstance(message, Request):
                await self._calls.admit(request.principal, server, message)
            reply = await self._upstreams.passthrough(
                server, request.headers, request.body, user=request.user, assertion=request.assertion
            )
        except HubError as error:
            return error_reply(error, request_id, modern=True)
        if isinstance(message, Request):
            self._calls.passed_through(request.principal, server, message, reply.status, time.perf_counter() - started)
        return HttpOut(reply.status, reply.headers, stream=reply.body)

    async def route(self, request: HttpIn, message: Message) -> HttpOut:
        """`/mcp/{server}`: passed through, unless the server bridges eras and speaks only the
        handshake era: then its pooled session and the bridge serve the client, as on `/mcp`."""
        server = self._servers[request.route]
        if server.bridge_eras and not await self._upstreams.speaks_stateless(server):
            return await self.post(request, message)
        return await self.passthrough(request, message)

    async def post(self, request: HttpIn, message: Message) -> HttpOut:
        if isinstance(message, Notification):
            return HttpOut(202)  # the era defines no client notifications over HTTP; cancelling = closing
        if isinstance(message, Response):
            raise InvalidRequest("2026-07-28 has no server-to-client requests, so there is nothing to answer")
        try:
            env = envelope.classify(message.method, message.params, request.headers)
        except HubError as error:
            return error_reply(error, message.id, modern=True)
        call = Call(
            request,
            message,
            self.context(request, env),
            env.client_capabilities,
            self._pipeline.mode(request),
            self._pipeline.operates(request),
        )
        if self.bridge.owns(message):
            return await self._pipeline.run(call, self, self._resume)
        if request.route and message.method in self._route_methods:
            return await self._pipeline.run(call, self, self._route_methods[message.method])
        return await self._pipeline.run(call, self)

    async def _route_discover(self, call: Call) -> Outcome:
        """server/discover on a bridged route: the handshake-era upstream's own initialize answer."""
        server = self._servers[call.http.route]
        await self._upstreams.ensure(call.ctx, server)
        initialized = self._upstreams.initialized(server) or {}
        result: JsonObject = {
            "supportedVersions": list(MODERN_VERSIONS),
            "capabilities": without_streams(cast(JsonObject, initialized.get("capabilities") or {})),
            "_meta": {SERVER_INFO_META_KEY: initialized.get("serverInfo") or {"name": server.name, "version": ""}},
        }
        if isinstance(initialized.get("instructions"), str):
            result["instructions"] = initialized["instructions"]
        return Answered(result)

    async def _route_unserved(self, call: Call) -> Outcome:
        raise MethodNotFound(
            f"{call.message.method} is not served on /mcp/{call.http.route}: the upstream speaks the handshake era, "
            "and no stream carries its changes across; use /mcp"
        )

    async def _resume(self, call: Call) -> Outcome:
        """A retry with the bridge's requestState: the rest of the held upstream exchange."""
        server, sent, messages = await self.bridge.resume(
            call.ctx, self._servers, call.message, admit=lambda server: self._admit_retry(call, server)
        )
        return Relayed(server, sent, _replay(messages))

    async def _admit_retry(self, call: Call, server: ServerSettings) -> None:
        """A retry is a request like any other: the caller's access and rate limits apply."""
        if call.ctx.allowed is not None and server.name not in call.ctx.allowed:
            raise InvalidRequest("this requestState names a server the caller may no longer use")
        await self._calls.admit(call.http.principal, server, call.message)

    def context(self, request: HttpIn, env: envelope.Envelope | None = None) -> SessionContext:
        """This request's context: its token, principal and envelope, over the user's pooled sessions."""
        declared = declared_back_channel(env.client_capabilities) if env is not None else {}
        pool = self._pool(request.user, request.allowed, declared)
        return SessionContext(
            pool.record,
            persistent=False,
            allowed=request.allowed,
            assertion=request.assertion,  # this request's token (used for on-behalf-of only)
            principal=request.principal,
            envelope=env,
            pool=pool,
        )

    def _pool(self, user: str, allowed: frozenset[str] | None, declared: JsonObject) -> SessionContext:
        """This instance's upstream sessions for `user`, opened declaring what the client can answer
        of sampling, elicitation and roots (the bridge carries those), so upstreams offer what this
        client can use and nothing it cannot.

        Keyed by what the user may see too, so a changed role takes effect with the next token."""
        key = (user, allowed, capability_shape(declared))
        ctx = self._pools.get(key)
        if ctx is None:
            shape = key[2]
            record = SessionRecord(f"pool:{user}:{shape}", "", user, LATEST_HANDSHAKE, declared, dict(HUB_INFO))
            ctx = self._pools[key] = SessionContext(record, persistent=False, allowed=allowed)
        return ctx

    async def _listen(self, call: Call) -> Outcome:
        return Streamed(await self._subscriptions.open(call.ctx, call.message))

    async def _discover(self, call: Call) -> Outcome:
        return Answered(self.discover_result())

    def discover_result(self) -> JsonObject:
        return {
            "supportedVersions": list(MODERN_VERSIONS),
            "capabilities": CAPABILITIES,
            "instructions": "Tools and prompts are named <server>__<name>; resources are mcphub://<server>/<uri>.",
            "ttlMs": self._ttl_ms,
            "cacheScope": "public",
        }

    # ---- framing -----------------------------------------------------------------------------

    def answer(self, call: Call, result: JsonObject) -> HttpOut:
        meta = dict(result.get("_meta") or {})
        meta.setdefault(SERVER_INFO_META_KEY, HUB_INFO)  # a bridged route names its upstream
        result = {**result, "resultType": "complete", "_meta": meta}
        if call.message.method in _CACHEABLE:
            result = {"ttlMs": self._ttl_ms, "cacheScope": "private", **result}
        return json_reply(Response(call.message.id, result).to_wire())

    def outgoing(self, call: Call, routed: Request) -> Request:
        # Every client of this user shares the pooled upstream session, and each numbers its own
        # requests: give the upstream an ID unique on that session, and the client its own back.
        return Request(f"mcphub-{next(self._ids)}", routed.method, routed.params)

    def rewrite(self, call: Call, server: ServerSettings | None, sent: Request) -> Rewrite:
        meta = call.message.params.get("_meta")
        wants_logs = isinstance(meta, dict) and LOG_LEVEL_META_KEY in meta
        cacheable = call.message.method in _CACHEABLE

        def rewrite(item: Message) -> Message | None:
            if isinstance(item, Request):
                return self._refuse(call, server, sent, item)
            if isinstance(item, Notification) and item.method == "notifications/message" and not wants_logs:
                return None
            if isinstance(item, Response):
                if item.id == sent.id:
                    item = Response(call.message.id, item.result, item.error)
                if item.result is not None:
                    result = {"resultType": "complete", **item.result}
                    if cacheable and result["resultType"] == "complete":
                        result = {"ttlMs": self._ttl_ms, "cacheScope": "private", **result}
                    item = Response(item.id, result)
            return self._aggregator.outbound(server, item) if server is not None and not call.http.route else item

        return rewrite

    def _refuse(self, call: Call, server: ServerSettings | None, sent: Request, asked: Request) -> Response:
        """An upstream asked the client something the bridge cannot carry: refuse it, and answer the call."""
        if server is None:
            error = UpstreamError("mcphub", f"the hub asked the client ({asked.method}), which 2026-07-28 cannot carry")
            return Response(call.message.id, error=error.to_error_object())
        self.abandon(call, server, sent)
        declared = declared_back_channel(call.capabilities)
        return Response(call.message.id, error=self.bridge.refuse(call.ctx, server, asked, declared))

    def relayed(self, call: Call, relayed: Relayed) -> Relayed:
        """A call that may make a handshake-era upstream ask the client goes through the bridge."""
        server = relayed.server
        declared = declared_back_channel(call.capabilities)
        if server is None or not declared or call.message.method not in BRIDGED:
            return relayed
        if call.http.route and not server.bridge_eras:
            return relayed
        bridged = self.bridge.relay(
            call.ctx, server, relayed.sent, declared, relayed.upstream, asked_for=call.message, heard=relayed.heard
        )
        return Relayed(server, relayed.sent, bridged, relayed.mirror)

    def abandon(self, call: Call, server: ServerSettings, sent: Request) -> None:
        notice = Notification("notifications/cancelled", {"requestId": sent.id, "reason": "client disconnected"})
        self._background.spawn(self._upstreams.deliver(call.ctx, server, notice))


async def _replay(messages: list[Message]) -> AsyncGenerator[Message]:
    for message in messages:
        yield message


def wants_modern(request: HttpIn, message: Message, decoded: object) -> bool:
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
