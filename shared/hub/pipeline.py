"""One request pipeline for every MCP request, whatever its protocol era.

The steps, in order, and where each lives:

    origin, authentication, access (route, step-up)   HubService.handle: HTTP, before the body is read
    session                                            the era: the stored session (handshake) or the
                                                       caller's pool on this instance (stateless)
    the hub's own tools, tool search                   `Pipeline._steps`: a flat loop, first answer wins
    the method table                                   `methods()`: one table; an era adds or removes entries
    routing, rate limit, upstream call, audit          `Pipeline.upstream`: Aggregator.route, Calls.admit,
    and telemetry                                      UpstreamSessions.forward, Calls.watch

An era (`handshake.py`, `stateless.py`) only frames: it turns a POST into a `Call` and an `Outcome`
into HTTP. The steps are plain awaited calls, not nested generators: one message costs one loop.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, cast

from shared.audit.events import audit
from shared.background import BackgroundTasks
from shared.errors import AuthError, HubError, MethodNotFound, PluginRefused
from shared.http import HttpIn, HttpOut, request_error, request_error_reply, sse_reply
from shared.hub.aggregate import Aggregator
from shared.hub.asks import Asks
from shared.hub.assistant import Assistant
from shared.hub.bridge import BRIDGED
from shared.hub.calls import Calls
from shared.hub.relaying import Rewrite, relay_reply
from shared.hub.rounds import rounds
from shared.hub.tool_search import SEARCH, Mode, ToolSearch, mode_for
from shared.hub.upstream_sessions import SessionContext, UpstreamSessions
from shared.identity.access import is_operator
from shared.mcp import sse
from shared.mcp.jsonrpc import JsonObject, Message, Request
from shared.plugins.api import Caller
from shared.plugins.chain import NO_PLUGINS, PluginChain
from shared.settings import ServerSettings
from shared.upstreams.client import Exchange

LISTS = ("tools/list", "prompts/list", "resources/list", "resources/templates/list")


@dataclass(slots=True)
class Call:
    """One client request on its way through the pipeline; steps may replace `message`."""

    http: HttpIn
    message: Request
    ctx: SessionContext
    capabilities: JsonObject  # what the client declared (handshake: at initialize; stateless: per request)
    mode: Mode  # tool search presentation
    operates: bool  # the caller may use the hub's own operator tools
    session: str = ""  # the hub session (usage records); "" in the stateless era

    @property
    def can_sample(self) -> bool:
        """The hub may ask the client's model: a session (answers can reach it) and sampling declared."""
        return bool(self.session) and "sampling" in self.capabilities


@dataclass(frozen=True, slots=True)
class Answered:
    """The hub answered the request itself."""

    result: JsonObject


@dataclass(frozen=True, slots=True)
class Relayed:
    """What an upstream (or the hub's assistant, `server` None) sends for the request, as it comes."""

    server: ServerSettings | None
    sent: Request  # the request as it went upstream (the era may give it its own ID)
    upstream: AsyncGenerator[Message]
    mirror: Exchange | None = None  # the transparent route keeps the upstream's own reply form
    heard: Exchange | None = None  # what the HTTP layer said of a call that may ask the client (event IDs)


@dataclass(frozen=True, slots=True)
class Streamed:
    """A long-lived event stream the hub produces itself (`subscriptions/listen`)."""

    events: AsyncIterator[bytes]


Outcome = Answered | Relayed | Streamed
Handler = Callable[[Call], Awaitable[Outcome]]


class Step(Protocol):
    """A cross-cutting step before the method table: an outcome ends the request, None goes on."""

    async def __call__(self, call: Call) -> Outcome | None: ...


class Framing(Protocol):
    """What an era decides: its method table, how an answer looks, what goes upstream and back."""

    modern: bool  # 2026-07-28 status mapping for errors (shared.errors.http_status)
    methods: Mapping[str, Handler]

    def answer(self, call: Call, result: JsonObject) -> HttpOut: ...

    def outgoing(self, call: Call, routed: Request) -> Request: ...

    def rewrite(self, call: Call, server: ServerSettings | None, sent: Request) -> Rewrite: ...

    def abandon(self, call: Call, server: ServerSettings, sent: Request) -> None: ...

    def relayed(self, call: Call, relayed: Relayed) -> Relayed:
        """What an upstream sends, as the era relays it (the stateless era bridges requests to the client)."""
        ...


class Pipeline:
    """The steps and the method table, and the parts both eras frame requests with."""

    def __init__(
        self,
        *,
        servers: Mapping[str, ServerSettings],
        upstreams: UpstreamSessions,
        aggregator: Aggregator,
        calls: Calls,
        search: ToolSearch,
        assistant: Assistant,
        asks: Asks,
        auth_off: bool,
        hub_tools: bool = True,
        tool_search: Mode = "off",
        keepalive_seconds: float = 15.0,
        plugins: PluginChain = NO_PLUGINS,
    ) -> None:
        self.servers = servers
        self.plugins = plugins
        self.upstreams = upstreams
        self.aggregator = aggregator
        self.calls = calls
        self.asks = asks
        self.keepalive_seconds = keepalive_seconds
        self.streams = sse.OpenStreams()
        self.background = BackgroundTasks()  # what eras send upstream after answering (cancels, refusals)
        self._search = search
        self._assistant = assistant
        self._auth_off = auth_off
        self._hub_tools_on = hub_tools
        self._tool_search: Mode = tool_search
        self._steps: list[Step] = [self._hub_tools, self._tool_search_step]

    def mode(self, request: HttpIn) -> Mode:
        """How tool search presents the tools to this caller (`?tool_search=` or the hub's setting)."""
        return mode_for(dict(request.query), self._tool_search)

    def operates(self, request: HttpIn) -> bool:
        """Whether the caller is offered the hub's own operator tools."""
        return self._hub_tools_on and is_operator(request.principal, auth_off=self._auth_off)

    # ---- the loop ----------------------------------------------------------------------------

    async def run(self, call: Call, era: Framing, handler: Handler | None = None) -> HttpOut:
        """The request's outcome (`handler`'s, else the steps' and the method table's) as HTTP."""
        try:
            outcome = await (handler(call) if handler is not None else self._outcome(call, era))
        except AuthError:
            raise  # answered at HTTP level with a challenge, not as a JSON-RPC error
        except HubError as error:
            answer = request_error(error, call.message)
            if answer.result is not None:  # a tool error: a result, framed as the era frames results
                return era.answer(call, answer.result)
            return request_error_reply(error, call.message, modern=era.modern)
        if isinstance(outcome, Answered):
            return era.answer(call, outcome.result)
        if isinstance(outcome, Streamed):
            return sse_reply(outcome.events)
        if outcome.server is not None:
            outcome = era.relayed(call, outcome)
        server, sent = outcome.server, outcome.sent
        mirror = outcome.mirror
        return await relay_reply(
            call.message,
            outcome.upstream,
            era.rewrite(call, server, sent),
            on_abandon=(lambda: era.abandon(call, server, sent)) if server is not None else (lambda: None),
            force_stream=lambda: mirror is not None and mirror.streamed,
            modern=era.modern,
        )

    async def _outcome(self, call: Call, era: Framing) -> Outcome:
        if call.http.route:
            # The transparent route: every method goes to its one server as the client sent it
            # (in the upstream's own reply form, unless the server bridges eras: then as the era frames it).
            server = self.servers[call.http.route]
            return await self.upstream(call, era, server, call.message, None if server.bridge_eras else Exchange())
        for step in self._steps:
            outcome = await step(call)
            if outcome is not None:
                return outcome
        handler = era.methods.get(call.message.method)
        if handler is None:
            raise MethodNotFound(f"method {call.message.method!r} is not served by the hub in this protocol version")
        return await handler(call)

    async def upstream(
        self,
        call: Call,
        era: Framing,
        server: ServerSettings,
        routed: Request,
        mirror: Exchange | None = None,
        listed: Mapping[str, Any] | None = None,
    ) -> Relayed:
        """Rate limit, the plugins' before-hooks, then the call on our session with `server` (its
        answer through the after-hooks), watched for audit and telemetry. `listed`: the tool as the
        server lists it. The transparent route (`/mcp/{server}`) runs no plugin."""
        principal = call.http.principal
        await self.calls.admit(principal, server, routed, call.session)
        before, after = self.plugins.around(routed.method, server.name) if not call.http.route else ([], [])
        caller = Caller.of(principal) if before or after else None
        if before and caller is not None:
            try:
                routed = await self.plugins.before(before, caller, server.name, routed, listed)
            except PluginRefused as refusal:
                self.calls.refused(principal, server, routed, refusal.plugin, call.session)
                raise
        sent = era.outgoing(call, routed)
        # Event IDs matter only to the bridge, which serves 2026-07-28 callers only.
        heard = Exchange() if mirror is None and era.modern and sent.method in BRIDGED else mirror
        stream = self.upstreams.forward(call.ctx, server, sent, heard)
        if call.session and mirror is None and sent.method in BRIDGED:
            # A 2026-07-28 upstream's input_required reaches a handshake-era client as requests.
            ctx = call.ctx
            stream = rounds(
                self.asks,
                server,
                sent,
                stream,
                lambda retry: self.upstreams.forward(ctx, server, retry),
                hub_session=call.session,
                declared=call.capabilities,
            )
        if after and caller is not None:
            stream = self.plugins.after(after, caller, server.name, sent, stream)
        return Relayed(server, sent, self.calls.watch(principal, server, routed, stream, call.session), mirror, heard)

    # ---- steps -------------------------------------------------------------------------------

    async def _hub_tools(self, call: Call) -> Outcome | None:
        """The hub's own operator tools; they may ask the client's model when it offers sampling."""
        message = call.message
        if message.method != "tools/call" or not call.operates:
            return None
        if not self._assistant.offers(message.params.get("name")):
            return None
        audit("assistant.call", user=call.http.user, tool=message.params.get("name"))
        replies = self._assistant.stream(
            message,
            tools=lambda: self.aggregator.tools(call.ctx),
            asks=self.asks,
            hub_session=call.session,
            can_sample=call.can_sample,
        )
        return Relayed(None, message, replies)

    async def _tool_search_step(self, call: Call) -> Outcome | None:
        """`search_tools` answers here; `call_tool` becomes the `tools/call` it stands for."""
        message = call.message
        if call.can_sample and self._search.calls(message, call.mode) == SEARCH:
            # The client's model restates the query in tool vocabulary first (see Assistant).
            replies = self._assistant.stream(
                message,
                tools=lambda: self._search_space(call),
                asks=self.asks,
                hub_session=call.session,
                can_sample=True,
            )
            return Relayed(None, message, replies)
        handled = await self._search.intercept(message, call.mode, lambda: self._search_space(call))
        if isinstance(handled, Request):
            call.message = handled
            return None
        return Answered(handled)

    async def _search_space(self, call: Call) -> list[dict[str, Any]]:
        """What `search_tools` ranks: the caller's own aggregated tools/list."""
        return cast(list[dict[str, Any]], (await self.aggregator.list(call.ctx, "tools/list"))["tools"])

    # ---- the method table --------------------------------------------------------------------

    def methods(
        self, era: Framing, *, add: Mapping[str, Handler] | None = None, remove: Iterable[str] = ()
    ) -> dict[str, Handler]:
        """The table every era starts from, with the era's own entries added and removed."""

        async def listed(call: Call) -> Outcome:
            method = call.message.method
            result = await self.aggregator.list(call.ctx, method)
            if method == "tools/list":
                result = self._search.decorate(self._assistant.offer(result, call.operates), call.mode)
            return Answered(result)

        async def routed(call: Call) -> Outcome:
            server, request, listed = await self.aggregator.route(call.ctx, call.message)
            return await self.upstream(call, era, server, request, listed=listed)

        table: dict[str, Handler] = dict.fromkeys(LISTS, listed)
        table.update(dict.fromkeys(("tools/call", "prompts/get", "resources/read", "completion/complete"), routed))
        table.update(
            {
                "ping": _pong,
                "logging/setLevel": self._set_level,
                "resources/subscribe": routed,
                "resources/unsubscribe": routed,
            }
        )
        for name in remove:
            table.pop(name, None)
        table.update(add or {})
        return table

    async def _set_level(self, call: Call) -> Outcome:
        await self.aggregator.broadcast(call.ctx, call.message)
        return Answered({})


async def _pong(call: Call) -> Outcome:
    return Answered({})
