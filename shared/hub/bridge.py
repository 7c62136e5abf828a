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
  there after `CLAIM_SECONDS`. Where the upstream numbers its stream's events (SSE `id`, for
  resumability), the holder left each round's resumption point in the table (its upstream
  session, the event that carried the round's last request, the requests): the retry's instance
  takes that, posts the answers on the holder's upstream session itself, reads the rest of the
  call's stream with `Last-Event-ID`, and holds the exchange from then on. Otherwise the retry
  fails clearly, so the client can start the call again.

`requestState` is `mcphub-bridge.<nonce>.<round>.<expiry>.<mac>`: signed for the user, the server
and the request (method and tool, prompt or resource), so no one else's retry can use it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
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
from shared.upstreams.client import Exchange as Heard

log = logging.getLogger(__name__)

PREFIX = "mcphub-bridge."
# Requests an upstream may send the client, and the client capability each needs.
BACK_CHANNEL = {"sampling/createMessage": "sampling", "elicitation/create": "elicitation", "roots/list": "roots"}
BRIDGED = ("tools/call", "prompts/get", "resources/read")  # the requests whose results may be input_required
GATHER_SECONDS = 0.005  # further requests the upstream sends within this time join the same round
CLAIM_SECONDS = 5.0  # a live holder takes the answers within its polling interval (0.5 s at most)
_ANSWER, _OUTCOME, _RESUME = "bridge-answer", "bridge-outcome", "bridge-resume"
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
    protocol_version: str | None
    heard: Heard | None  # the event IDs of the upstream's stream, where it numbers them
    declared: JsonObject
    expires: float
    first: asyncio.Future[JsonObject]  # the first round's input_required, for the call that started it
    round: int = 0
    current: _Round | None = None
    asked: int = 0
    point: str | None = None  # the event ID a resumption reads on after (the newest request asked)
    kept: int = 0  # the last round whose resumption point is in the table
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
        heard: Heard | None = None,
    ) -> AsyncGenerator[Message]:
        """`upstream` as it comes, until it asks the client something the client declared it can
        answer: then the exchange is parked here and the call is answered with input_required.
        `asked_for` is the client's own request (its retries name the same tool, prompt or URI);
        `heard` fills in with the stream's event IDs as it is read."""
        parked = False
        try:
            while True:
                try:
                    message = await anext(upstream)
                except StopAsyncIteration:
                    return
                if isinstance(message, Request) and BACK_CHANNEL.get(message.method) in declared:
                    parked = True
                    exchange = self._park(ctx, server, sent, declared, upstream, message, asked_for, heard)
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
        heard: Heard | None,
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
            protocol_version=known.protocol_version if known is not None else None,
            heard=heard,
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

    async def _hold(self, exchange: _Exchange, asked: Request | None) -> None:
        """Deliver each round's answers upstream and read on, until the upstream answers the call.
        `asked` None: an exchange taken over from a lost holder, its round's answers in hand (the
        resumed stream is read once they are delivered)."""
        server = exchange.server
        queue: asyncio.Queue[Message | HubError | None] = asyncio.Queue()
        pump: asyncio.Task[None] | None = None
        try:
            if asked is not None:
                pump = asyncio.create_task(_pump(exchange.upstream, queue))
                asking = self._ask(exchange, await self._gather(exchange, queue, [asked]))
                await self._keep_resumable(exchange)  # before the client hears: it may retry anywhere at once
                exchange.first.set_result(asking)
            while True:
                current = exchange.current
                if current is None:
                    return
                try:
                    responses, remote = await self._answers(exchange, current)
                except UpstreamTimeout:
                    await self._cancel(exchange, current)
                    return
                missing = [ask for key, ask in current.asks.items() if key not in responses]
                for key, ask in current.asks.items():
                    if key in responses:
                        await self._send_upstream(exchange, _answer_to(ask, responses[key]))
                if pump is None:
                    pump = asyncio.create_task(_pump(exchange.upstream, queue))
                outcome = (
                    await self._next_round(exchange, queue, missing)
                    if missing
                    else await self._read_on(exchange, queue)
                )
                final = exchange.current is current  # no new round was asked
                if not final:
                    await self._keep_resumable(exchange)
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
            current = exchange.current
            if current is not None and not current.outcome.done():  # a retry waits for this round's outcome
                failed = error if isinstance(error, HubError) else UpstreamUnavailable(server.name, _said(error))
                outcome: list[Message] = [Response(exchange.sent.id, error=failed.to_error_object())]
                current.outcome.set_result(outcome)
                with contextlib.suppress(Exception):
                    await self._put(_OUTCOME, f"{exchange.nonce}.{current.number}", outcome)
        finally:
            del self._held[exchange.nonce]
            if pump is not None:
                pump.cancel()
                await asyncio.gather(pump, return_exceptions=True)
            await exchange.upstream.aclose()

    async def _send_upstream(self, exchange: _Exchange, message: Message) -> None:
        """An answer, refusal or cancellation on the exchange's own upstream session."""
        await self._upstreams.answer(
            exchange.ctx, exchange.server, message, exchange.upstream_session, exchange.protocol_version
        )

    async def _cancel(self, exchange: _Exchange, current: _Round) -> None:
        """The client did not answer in time: the call is cancelled upstream, unless another
        instance took the exchange over (this one seemed lost to it)."""
        server = exchange.server
        if exchange.kept == current.number and await self._take(_RESUME, f"{exchange.nonce}.{current.number}") is None:
            log.info("another instance resumed the exchange with upstream %r: this one lets it go", server.name)
            return
        log.info(
            "no answer to upstream %r's request to the client within %g s: cancelled upstream",
            server.name,
            self.timeout_seconds,
        )
        reason = "the client did not answer"
        await self._send_upstream(
            exchange, Notification("notifications/cancelled", {"requestId": exchange.sent.id, "reason": reason})
        )

    async def _keep_resumable(self, exchange: _Exchange) -> None:
        """Where the upstream numbers its stream's events, this round's resumption point goes in
        the table (one row write), so another instance can go on if this one is lost."""
        current, heard = exchange.current, exchange.heard
        if current is None or heard is None or exchange.upstream_session is None or exchange.protocol_version is None:
            return
        for ask in current.asks.values():  # a request asked again was popped before: the point never goes back
            exchange.point = heard.asked_in.pop(str(ask.id), exchange.point)
        if exchange.point is None:
            return
        point: JsonObject = {
            "session": exchange.upstream_session,
            "version": exchange.protocol_version,
            "event": exchange.point,
            "sent": exchange.sent.to_wire(),
            "asks": {key: ask.to_wire() for key, ask in current.asks.items()},
            "asked": exchange.asked,
            "declared": exchange.declared,
            "expires": exchange.expires,
        }
        try:
            await self._put(_RESUME, f"{exchange.nonce}.{current.number}", point)
        except Exception as error:  # the exchange goes on here; only its resumption elsewhere is lost
            log.info("could not record where upstream %r's stream resumes: %s", exchange.server.name, _said(error))
            return
        exchange.kept = current.number

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
                self._background.spawn(self._send_upstream(exchange, _refusal(item)))
                refused = _refusal_error(exchange.server, item, exchange.declared)
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
            if current.answers.done():  # handed over (a taken-over exchange has them from the start)
                return current.answers.result()
            remaining = exchange.expires - self._clock()
            if remaining <= 0:
                stored = await self._take(_ANSWER, key)  # left there just in time
                if stored is not None:
                    return cast(JsonObject, stored), True
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
        self._background.spawn(self._upstreams.deliver(ctx, server, _refusal(asked)))
        return _refusal_error(server, asked, declared)

    # ---- the retry ----------------------------------------------------------------------------

    async def resume(
        self,
        ctx: SessionContext,
        servers: Mapping[str, ServerSettings],
        retry: Request,
        *,
        admit: Callable[[ServerSettings], Awaitable[None]],
    ) -> tuple[ServerSettings, Request, list[Message]]:
        """The answer to a retry: (its server, the request the messages answer, the messages).
        `admit` checks the caller may still use the server (access, rate limits) before anything
        is handed over."""
        nonce, round_, server = self._verify(ctx.user, servers, retry)
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
        messages = await self._remote_outcome(ctx, server, retry, key)
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

    async def _remote_outcome(
        self, ctx: SessionContext, server: ServerSettings, retry: Request, key: str
    ) -> list[Message]:
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
                answers = await self._take(_ANSWER, key)
                if answers is not None:
                    point = await self._take(_RESUME, key)
                    if point is None:
                        raise UpstreamUnavailable(
                            server.name,
                            f"the hub instance holding this call's exchange with upstream {server.name!r} stopped "
                            "before the answers reached it (the upstream's stream cannot be resumed): "
                            "start the call again",
                        )
                    return await self._take_over(ctx, server, retry, key, cast(JsonObject, answers), point)
                claimed = True
            if now >= deadline:
                raise UpstreamTimeout(server.name, f"upstream {server.name!r} did not go on after the client's answers")
            interval = next_poll(interval, now - started)

    async def _take_over(
        self, ctx: SessionContext, server: ServerSettings, retry: Request, key: str, answers: JsonObject, point: Any
    ) -> list[Message]:
        """The lost holder's exchange, from its resumption point: this instance delivers the
        answers on the holder's upstream session, reads the rest of the call's stream after the
        event that carried the round's last request, and holds the exchange from then on."""
        nonce, _, number = key.rpartition(".")
        sent = cast(Request, parse_message(point["sent"]))
        asks = {name: cast(Request, parse_message(ask)) for name, ask in cast(dict[str, Any], point["asks"]).items()}
        session, version, event = str(point["session"]), str(point["version"]), str(point["event"])
        heard = Heard()
        loop = asyncio.get_running_loop()
        current = _Round(int(number), asks, loop.create_future(), loop.create_future())
        current.answers.set_result((answers, False))
        upstream = self._upstreams.resumed(
            ctx,
            server,
            session_id=session,
            protocol_version=version,
            last_event_id=event,
            answer_id=sent.id,
            exchange=heard,
        )
        exchange = _Exchange(
            nonce=nonce,
            user=ctx.user,
            server=server,
            method=retry.method,
            target=target_of(retry),
            sent=sent,
            ctx=ctx,
            upstream=upstream,
            upstream_session=session,
            protocol_version=version,
            heard=heard,
            declared=cast(JsonObject, point["declared"]),
            expires=float(point["expires"]),
            first=loop.create_future(),
            round=int(number),
            current=current,
            asked=int(point["asked"]),
            point=event,
        )
        log.info("resuming upstream %r's stream for a call whose holding instance is gone", server.name)
        self._held[nonce] = exchange
        self._background.spawn(self._hold(exchange, None))
        return await self._local_outcome(server, current, exchange.expires)

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
        if kind == _OUTCOME:
            value = {"messages": [message.to_wire() for message in cast(list[Message], value)]}
        text = json.dumps(value)
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


def _refusal(asked: Request) -> Response:
    return Response(asked.id, error={"code": -32601, "message": "the client cannot be asked this"})


def _refusal_error(server: ServerSettings, asked: Request, declared: JsonObject) -> JsonObject:
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


def _answer_to(ask: Request, answer: object) -> Response:
    if isinstance(answer, dict):
        return Response(ask.id, cast(JsonObject, answer))
    return Response(ask.id, error={"code": -32602, "message": "the client's answer was not an object"})


def _said(error: Exception) -> str:
    return error.message if isinstance(error, HubError) else type(error).__name__
