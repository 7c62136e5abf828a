"""A handshake-era upstream's requests to a 2026-07-28 client, as multi round-trip requests.

A 2025-era upstream asks the client (sampling, elicitation, roots) on the SSE stream of the hub's
POST, in the middle of a `tools/call`, `prompts/get` or `resources/read`. A 2026-07-28 client
cannot be sent requests: its era answers the call with `resultType: "input_required"` instead,
and the client retries the call with its answers (`inputResponses`) and the `requestState`.

The upstream's POST stays open, held by the instance that made it (the holder), after the
client's HTTP request has ended; the retry may reach any instance:

* the holder keeps the upstream exchange in a background task for at most the ask timeout
  (MCPHUB_ASK_TIMEOUT_SECONDS), then cancels it upstream;
* a retry that reaches the holder hands the answers over in memory (no store operation);
* a retry that reaches another instance leaves the answers in the grants table, where the holder
  looks for them (polling with a growing interval, as for the hub's own asks). The holder
  delivers them upstream, reads the upstream's reply until its next request or its answer, and
  leaves that in the table for the retry to take;
* if the holder is gone (scaled in, crashed), nobody takes the answers: the retry sees them still
  there after `CLAIM_SECONDS` and fails clearly, so the client can start the call again.

`requestState` is `mcphub-bridge.<nonce>.<round>.<expiry>.<mac>`: signed for the user, the server
and the request (method and tool, prompt or resource), so no one else's retry can use it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from shared.background import BackgroundTasks
from shared.errors import HubError, InvalidParams, MissingClientCapability, UpstreamTimeout, UpstreamUnavailable
from shared.hub.asks import EAGER_POLL, next_poll
from shared.hub.upstream_sessions import SessionContext, UpstreamSessions
from shared.identity.grants import GrantStore
from shared.mcp.jsonrpc import JsonObject, Message, Notification, Request, Response, parse_message
from shared.settings import ServerSettings

log = logging.getLogger(__name__)

PREFIX = "mcphub-bridge."
# Requests an upstream may send the client, and the client capability each needs.
BACK_CHANNEL = {"sampling/createMessage": "sampling", "elicitation/create": "elicitation", "roots/list": "roots"}
BRIDGED = ("tools/call", "prompts/get", "resources/read")  # the requests whose results may be input_required
GATHER_SECONDS = 0.005  # further requests the upstream sends within this time join the same round
CLAIM_SECONDS = 5.0  # a live holder takes the answers within its polling interval (0.5 s at most)
_ANSWER, _OUTCOME = "bridge-answer", "bridge-outcome"
_PART = 30_000  # characters of JSON per table row (a string property holds 32 K characters)
# Both waits through the store poll as the hub's own asks do (`asks.next_poll`): the answer, and
# the outcome that follows it, usually come within the first 0.5 s.
_MAX_NOTES = 200  # notifications kept for the retry between two rounds
_KEEP_SECONDS = 60.0  # rows outlive every wait on them: an expired answer would read as taken


def declared_back_channel(capabilities: JsonObject) -> JsonObject:
    """The part of a client's capabilities an upstream's requests need (what the bridge can carry)."""
    return {name: capabilities[name] for name in BACK_CHANNEL.values() if name in capabilities}


def target_of(message: Request) -> str:
    """What a bridged request is about: its tool or prompt name, or its resource URI."""
    value = message.params.get("name") if message.method != "resources/read" else message.params.get("uri")
    return str(value)


@dataclass(slots=True)
class _Round:
    number: int
    asks: dict[str, Request]  # key in inputRequests -> the upstream's request
    answers: asyncio.Future[tuple[JsonObject, bool]]  # (inputResponses, came through the store)
    outcome: asyncio.Future[list[Message]]  # what the retry answers with, for a retry on this instance


@dataclass(slots=True)
class _Exchange:
    nonce: str
    user: str
    server: ServerSettings
    method: str
    target: str
    sent: Request  # the request as it went upstream
    ctx: SessionContext
    upstream: AsyncGenerator[Message]
    upstream_session: str | None
    declared: JsonObject
    expires: float
    first: asyncio.Future[JsonObject]  # the first round's input_required, for the call that started it
    round: int = 0
    current: _Round | None = None
    asked: int = 0
    notes: list[Message] = field(default_factory=lambda: list[Message]())  # sent meanwhile, for the retry
    pending: list[Message | HubError | None] = field(default_factory=lambda: list[Message | HubError | None]())


class Bridge:
    """The exchanges this instance holds, and the hand-over of answers and outcomes through the store."""

    def __init__(
        self,
        key: bytes,
        store: GrantStore,
        upstreams: UpstreamSessions,
        *,
        clock: Callable[[], float],
        timeout_seconds: float,
        claim_seconds: float = CLAIM_SECONDS,
        gather_seconds: float = GATHER_SECONDS,
    ) -> None:
        self._gather_seconds = gather_seconds
        self._key = hashlib.sha256(b"mcphub-bridge\0" + key).digest()
        self._store = store
        self._upstreams = upstreams
        self._clock = clock
        self.timeout_seconds = timeout_seconds
        self._claim_seconds = claim_seconds
        self._held: dict[str, _Exchange] = {}
        self._background = BackgroundTasks()
        self.store_operations = 0  # table rows written or read (a take is one read, plus a delete if found)

    @property
    def held(self) -> int:
        """Upstream exchanges this instance holds now (waiting for a client's answers)."""
        return len(self._held)

    async def aclose(self) -> None:
        """End every exchange held here (shutdown): each cancels its upstream request as it ends."""
        for exchange in list(self._held.values()):
            if exchange.current is not None and not exchange.current.answers.done():
                exchange.current.answers.set_exception(UpstreamTimeout(exchange.server.name, "the hub is stopping"))
        await self._background.drain()

    @staticmethod
    def owns(message: Request) -> bool:
        """Whether `message` is a retry of a call the bridge answered with input_required."""
        state = message.params.get("requestState")
        return message.method in BRIDGED and isinstance(state, str) and state.startswith(PREFIX)

    # ---- the call that starts it --------------------------------------------------------------

    async def relay(
        self,
        ctx: SessionContext,
        server: ServerSettings,
        sent: Request,
        declared: JsonObject,
        upstream: AsyncGenerator[Message],
        *,
        asked_for: Request,
    ) -> AsyncGenerator[Message]:
        """`upstream` as it comes, until it asks the client something the client declared it can
        answer: then the exchange is parked here and the call is answered with input_required.
        `asked_for` is the client's own request (its retries name the same tool, prompt or URI)."""
        parked = False
        try:
            while True:
                try:
                    message = await anext(upstream)
                except StopAsyncIteration:
                    return
                if isinstance(message, Request) and BACK_CHANNEL.get(message.method) in declared:
                    parked = True
                    exchange = self._park(ctx, server, sent, declared, upstream, message, asked_for)
                    yield Response(sent.id, await exchange.first)
                    return
                yield message
        finally:
            if not parked:
                await upstream.aclose()

    def _park(
        self,
        ctx: SessionContext,
        server: ServerSettings,
        sent: Request,
        declared: JsonObject,
        upstream: AsyncGenerator[Message],
        asked: Request,
        asked_for: Request,
    ) -> _Exchange:
        known = ctx.record.upstreams.get(server.name)
        exchange = _Exchange(
            nonce=secrets.token_urlsafe(12),
            user=ctx.user,
            server=server,
            method=asked_for.method,
            target=target_of(asked_for),
            sent=sent,
            ctx=ctx,
            upstream=upstream,
            upstream_session=known.session_id if known is not None else None,
            declared=declared,
            expires=self._clock() + self.timeout_seconds,
            first=asyncio.get_running_loop().create_future(),
        )
        self._held[exchange.nonce] = exchange
        self._background.spawn(self._hold(exchange, asked))
        return exchange

    def _ask(self, exchange: _Exchange, requests: list[Request]) -> JsonObject:
        """The input_required result of the exchange's next round, which asks `requests`."""
        asks: dict[str, Request] = {}
        for request in requests:
            exchange.asked += 1
            asks[f"ask-{exchange.asked}"] = request
        exchange.round += 1
        loop = asyncio.get_running_loop()
        exchange.current = _Round(exchange.round, asks, loop.create_future(), loop.create_future())
        state = self._state(exchange)
        inputs = {key: {"method": ask.method, "params": ask.params} for key, ask in asks.items()}
        return {"resultType": "input_required", "inputRequests": inputs, "requestState": state}

    # ---- the holder ---------------------------------------------------------------------------

    async def _hold(self, exchange: _Exchange, asked: Request) -> None:
        """Deliver each round's answers upstream and read on, until the upstream answers the call."""
        server = exchange.server
        queue: asyncio.Queue[Message | HubError | None] = asyncio.Queue()
        pump = asyncio.create_task(_pump(exchange.upstream, queue))
        try:
            exchange.first.set_result(self._ask(exchange, await self._gather(exchange, queue, [asked])))
            while True:
                current = exchange.current
                if current is None:
                    return
                try:
                    responses, remote = await self._answers(exchange, current)
                except UpstreamTimeout:
                    log.info(
                        "no answer to upstream %r's request to the client within %g s: cancelled upstream",
                        server.name,
                        self.timeout_seconds,
                    )
                    reason = "the client did not answer"
                    cancel = Notification("notifications/cancelled", {"requestId": exchange.sent.id, "reason": reason})
                    await self._upstreams.deliver(exchange.ctx, server, cancel)
                    return
                missing = [ask for key, ask in current.asks.items() if key not in responses]
                for key, ask in current.asks.items():
                    if key in responses:
                        await self._upstreams.answer(
                            exchange.ctx, server, _answer_to(ask, responses[key]), exchange.upstream_session
                        )
                outcome = (
                    await self._next_round(exchange, queue, missing)
                    if missing
                    else await self._read_on(exchange, queue)
                )
                final = exchange.current is current  # no new round was asked
                if remote:
                    await self._put(_OUTCOME, f"{exchange.nonce}.{current.number}", outcome)
                if not current.outcome.done():
                    current.outcome.set_result(outcome)
                if final:
                    return
        except Exception as error:  # the holder is background work: it logs, never raises
            log.info("the exchange with upstream %r ended: %s", server.name, _said(error))
            if not exchange.first.done():
                failed = UpstreamUnavailable(server.name, f"the exchange with upstream {server.name!r} failed")
                exchange.first.set_exception(error if isinstance(error, HubError) else failed)
        finally:
            del self._held[exchange.nonce]
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)
            await exchange.upstream.aclose()

    async def _next_round(
        self, exchange: _Exchange, queue: asyncio.Queue[Message | HubError | None], asks: list[Request]
    ) -> list[Message]:
        """The notifications meanwhile, and the input_required of the next round."""
        asking = self._ask(exchange, await self._gather(exchange, queue, asks))
        return [*self._notes(exchange), Response(exchange.sent.id, asking)]

    async def _gather(
        self, exchange: _Exchange, queue: asyncio.Queue[Message | HubError | None], asks: list[Request]
    ) -> list[Request]:
        """`asks` and whatever else the upstream asks within `GATHER_SECONDS` of the last one (a
        server may ask several things at once: they go to the client in one round)."""
        asks = list(asks)
        while not exchange.pending:
            try:
                item = await asyncio.wait_for(queue.get(), self._gather_seconds)
            except TimeoutError:
                break
            if isinstance(item, Request) and BACK_CHANNEL.get(item.method) in exchange.declared:
                asks.append(item)
            else:
                exchange.pending.append(item)  # read on after this round
        return asks

    async def _read_on(self, exchange: _Exchange, queue: asyncio.Queue[Message | HubError | None]) -> list[Message]:
        """What the retry answers with: the notifications meanwhile, then the upstream's answer or
        the next round's input_required."""
        name = exchange.server.name
        while True:
            item = exchange.pending.pop(0) if exchange.pending else await queue.get()
            if item is None:
                item = UpstreamUnavailable(name, f"upstream {name!r} sent no answer")
            if isinstance(item, HubError):
                return [*self._notes(exchange), Response(exchange.sent.id, error=item.to_error_object())]
            if isinstance(item, Request):
                if BACK_CHANNEL.get(item.method) in exchange.declared:
                    return await self._next_round(exchange, queue, [item])
                refused = self.refuse(exchange.ctx, exchange.server, item, exchange.declared)
                return [*self._notes(exchange), Response(exchange.sent.id, error=refused)]
            if isinstance(item, Response) and item.id == exchange.sent.id:
                return [*self._notes(exchange), item]
            if len(exchange.notes) < _MAX_NOTES:
                exchange.notes.append(item)

    @staticmethod
    def _notes(exchange: _Exchange) -> list[Message]:
        notes = exchange.notes
        exchange.notes = []
        return notes

    async def _answers(self, exchange: _Exchange, current: _Round) -> tuple[JsonObject, bool]:
        """The client's answers to this round: handed over here, or left in the store elsewhere."""
        key = f"{exchange.nonce}.{current.number}"
        started = self._clock()
        interval = EAGER_POLL
        while True:
            remaining = exchange.expires - self._clock()
            if remaining <= 0:
                raise UpstreamTimeout(exchange.server.name, "the client did not answer in time")
            try:
                return await asyncio.wait_for(asyncio.shield(current.answers), min(interval, remaining))
            except TimeoutError:
                pass
            stored = await self._take(_ANSWER, key)
            if stored is not None:
                return cast(JsonObject, stored), True
            interval = next_poll(interval, self._clock() - started)

    def refuse(self, ctx: SessionContext, server: ServerSettings, asked: Request, declared: JsonObject) -> JsonObject:
        """The upstream asked what cannot reach this client: refused upstream; the call's error."""
        refusal = Response(asked.id, error={"code": -32601, "message": "the client cannot be asked this"})
        self._background.spawn(self._upstreams.deliver(ctx, server, refusal))
        needed = BACK_CHANNEL.get(asked.method)
        error: HubError
        if needed is not None and needed not in declared:
            error = MissingClientCapability(
                f"upstream {server.name!r} asked the client {asked.method}, which needs the client capability "
                f"{needed!r}; the client did not declare it",
                data={"requiredCapabilities": {needed: {}}},
            )
        else:
            error = UpstreamUnavailable(
                server.name, f"upstream {server.name!r} asked the client {asked.method}, which the hub cannot carry"
            )
        return error.to_error_object()

    # ---- the retry ----------------------------------------------------------------------------

    async def resume(
        self,
        user: str,
        servers: Mapping[str, ServerSettings],
        retry: Request,
        *,
        admit: Callable[[ServerSettings], Awaitable[None]],
    ) -> tuple[ServerSettings, Request, list[Message]]:
        """The answer to a retry: (its server, the request the messages answer, the messages).
        `admit` checks the caller may still use the server (access, rate limits) before anything
        is handed over."""
        nonce, round_, server = self._verify(user, servers, retry)
        await admit(server)
        responses = retry.params.get("inputResponses")
        if not isinstance(responses, dict):
            raise InvalidParams("a retry with requestState needs inputResponses, an object keyed as inputRequests was")
        answers = cast(JsonObject, responses)
        exchange = self._held.get(nonce)
        if exchange is not None:
            current = exchange.current
            if current is None or current.number != round_:
                raise InvalidParams("this requestState was answered already: retry with the latest one")
            if not current.answers.done():
                current.answers.set_result((answers, False))
            messages = await self._local_outcome(server, current, exchange.expires)
            return server, exchange.sent, messages
        key = f"{nonce}.{round_}"
        await self._put(_ANSWER, key, answers)
        messages = await self._remote_outcome(server, key)
        answered = next((m.id for m in reversed(messages) if isinstance(m, Response) and m.id is not None), "")
        return server, Request(answered, retry.method, retry.params), messages

    async def _local_outcome(self, server: ServerSettings, current: _Round, expires: float) -> list[Message]:
        remaining = max(expires - self._clock(), 0.0) + server.timeout
        try:
            return await asyncio.wait_for(asyncio.shield(current.outcome), remaining)
        except TimeoutError:
            raise UpstreamTimeout(
                server.name, f"upstream {server.name!r} did not go on after the client's answers"
            ) from None

    async def _remote_outcome(self, server: ServerSettings, key: str) -> list[Message]:
        started = self._clock()
        deadline = started + self.timeout_seconds + server.timeout
        claimed = False
        interval = EAGER_POLL
        while True:
            await asyncio.sleep(interval)
            stored = await self._take(_OUTCOME, key)
            if stored is not None:
                return [parse_message(item) for item in cast(list[Any], stored["messages"])]
            now = self._clock()
            if not claimed and now - started >= self._claim_seconds:
                if await self._take(_ANSWER, key) is not None:
                    raise UpstreamUnavailable(
                        server.name,
                        f"the hub instance holding this call's exchange with upstream {server.name!r} stopped "
                        "before the answers reached it: start the call again",
                    )
                claimed = True
            if now >= deadline:
                raise UpstreamTimeout(server.name, f"upstream {server.name!r} did not go on after the client's answers")
            interval = next_poll(interval, now - started)

    # ---- state --------------------------------------------------------------------------------

    def _state(self, exchange: _Exchange) -> str:
        body = f"{exchange.server.name}.{exchange.nonce}.{exchange.round}.{int(exchange.expires)}"
        return f"{PREFIX}{body}.{self._sign(exchange.user, exchange.method, exchange.target, body)}"

    def _verify(
        self, user: str, servers: Mapping[str, ServerSettings], retry: Request
    ) -> tuple[str, int, ServerSettings]:
        """(nonce, round, server) of a retry's requestState, signed for this user and request."""
        body, _, mac = str(retry.params.get("requestState"))[len(PREFIX) :].rpartition(".")
        parts = body.split(".")
        if (
            len(parts) == 4
            and parts[0] in servers
            and parts[2].isdigit()
            and parts[3].isdigit()
            and hmac.compare_digest(mac, self._sign(user, retry.method, target_of(retry), body))
            and int(parts[3]) >= self._clock()
        ):
            return parts[1], int(parts[2]), servers[parts[0]]
        raise InvalidParams(
            "requestState is not one the hub issued for this user and request, or it has expired: start the call again"
        )

    def _sign(self, user: str, method: str, target: str, body: str) -> str:
        mac = hmac.new(self._key, "\0".join((user, method, target, body)).encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:18]).decode()

    # ---- the store, in parts ------------------------------------------------------------------

    async def _put(self, kind: str, key: str, value: object) -> None:
        """`value` under `key`, in rows of `_PART` characters (a result may be megabytes)."""
        text = json.dumps(value if kind == _ANSWER else {"messages": [m.to_wire() for m in cast(list[Message], value)]})
        parts = [text[i : i + _PART] for i in range(0, len(text), _PART)] or [""]
        expires = self._clock() + self.timeout_seconds + self._claim_seconds + _KEEP_SECONDS
        for index in range(len(parts) - 1, 0, -1):
            await self._store.put(kind, f"{key}.{index}", {"d": parts[index]}, expires_at=expires)
        await self._store.put(kind, f"{key}.0", {"d": parts[0], "n": len(parts)}, expires_at=expires)
        self.store_operations += len(parts)

    async def _take(self, kind: str, key: str) -> Any:
        now = self._clock()
        head = await self._store.take(kind, f"{key}.0", now=now)
        self.store_operations += 1
        if head is None:
            return None
        text = str(head["d"])
        count = int(head.get("n", 1))
        self.store_operations += 2 * count - 1  # the head's delete; a read and a delete per other part
        for index in range(1, count):
            part = await self._store.take(kind, f"{key}.{index}", now=now)
            text += str(part["d"]) if part is not None else ""
        return json.loads(text)


async def _pump(upstream: AsyncGenerator[Message], queue: asyncio.Queue[Message | HubError | None]) -> None:
    """The upstream's messages into `queue`, then None; a failure goes in as the error."""
    try:
        async for message in upstream:
            await queue.put(message)
    except HubError as error:
        await queue.put(error)
        return
    await queue.put(None)


def _answer_to(ask: Request, answer: object) -> Response:
    if isinstance(answer, dict):
        return Response(ask.id, cast(JsonObject, answer))
    return Response(ask.id, error={"code": -32602, "message": "the client's answer was not an object"})


def _said(error: Exception) -> str:
    return error.message if isinstance(error, HubError) else type(error).__name__
