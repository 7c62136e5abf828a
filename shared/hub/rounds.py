"""A 2026-07-28 upstream's `input_required` answers, as requests to a handshake-era client.

The other way round from `bridge.py`. A handshake-era client (2025-03-26 .. 2025-11-25) expects
an upstream's questions (sampling, elicitation, roots) as JSON-RPC requests on the SSE stream of
its POST, and answers each with a POST of its own. A 2026-07-28 upstream, reached statelessly,
answers the call with `resultType: "input_required"` instead: `inputRequests` keyed by its own
names, and a `requestState` to send back.

For each round the hub sends the client one request per input request, with an ID of the hub's
own asks (`asks.py`: signed for the client's session, so its answer, which may reach any
instance, finds its way back here through the store), waits for all of them, and retries the
call upstream with `inputResponses` keyed as asked and the upstream's `requestState` unchanged.
The upstream's final answer ends the client's stream. Nothing is held between requests: the
instance that holds the client's POST stream runs every round, and each retry is a new,
self-contained request any upstream instance may serve.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from typing import cast

from shared.errors import MissingClientCapability, UpstreamError, UpstreamProtocolError
from shared.hub.asks import Answer, Asks
from shared.hub.bridge import BACK_CHANNEL
from shared.mcp.jsonrpc import JsonObject, Message, Request, Response
from shared.settings import ServerSettings

MAX_ROUNDS = 16  # an upstream that asks on and on ends the call instead of holding it forever
_RETRY_KEYS = ("inputResponses", "requestState")

Retry = Callable[[Request], AsyncGenerator[Message]]


def asks_input(message: Message, request_id: object) -> bool:
    """Whether `message` answers `request_id` with input_required (2026-07-28)."""
    return (
        isinstance(message, Response)
        and message.id == request_id
        and message.result is not None
        and message.result.get("resultType") == "input_required"
    )


async def rounds(
    asks: Asks,
    server: ServerSettings,
    sent: Request,
    upstream: AsyncGenerator[Message],
    retry: Retry,
    *,
    hub_session: str,
    declared: JsonObject,
) -> AsyncGenerator[Message]:
    """`upstream` as it comes; each input_required becomes requests to the client, and the call
    goes on upstream (`retry`) with the client's answers until the upstream answers it."""
    request = sent
    for number in range(MAX_ROUNDS + 1):
        asked: Response | None = None
        try:
            async for message in upstream:
                if asks_input(message, sent.id):
                    asked = cast(Response, message)
                    break
                yield message
        finally:
            await upstream.aclose()
        if asked is None:
            return
        if number == MAX_ROUNDS:
            raise UpstreamProtocolError(
                server.name, f"upstream {server.name!r} asked the client for input {MAX_ROUNDS} times in one call"
            )
        result = cast(JsonObject, asked.result)
        inputs = _input_requests(server, result, declared)
        ids = {key: asks.new(hub_session) for key in inputs}
        waits: list[asyncio.Future[Answer]] = []
        try:
            for key, (method, params) in inputs.items():
                yield Request(ids[key], method, params)
            waits = [asyncio.ensure_future(asks.wait(ids[key])) for key in inputs]
            answers = await asyncio.gather(*waits)
        finally:
            # One failed or timed-out answer ends the round: the other waits stop with it.
            for wait in waits:
                wait.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
            for ask_id in ids.values():
                asks.forget(ask_id)
        params = {name: value for name, value in request.params.items() if name not in _RETRY_KEYS}
        params["inputResponses"] = {
            key: _result(server, inputs[key][0], answer) for key, answer in zip(inputs, answers, strict=True)
        }
        if "requestState" in result:
            params["requestState"] = result["requestState"]
        request = Request(sent.id, sent.method, params)
        upstream = retry(request)


def _input_requests(
    server: ServerSettings, result: JsonObject, declared: JsonObject
) -> dict[str, tuple[str, JsonObject]]:
    """`inputRequests` as (method, params) by key; refused when the client cannot answer one."""
    raw = result.get("inputRequests")
    if not isinstance(raw, dict) or not raw:
        raise UpstreamProtocolError(server.name, f"upstream {server.name!r} asked for input without inputRequests")
    inputs: dict[str, tuple[str, JsonObject]] = {}
    for key, value in cast(JsonObject, raw).items():
        item = cast(JsonObject, value) if isinstance(value, dict) else {}
        method, params = item.get("method"), item.get("params", {})
        if not isinstance(method, str) or not isinstance(params, dict):
            raise UpstreamProtocolError(server.name, f"upstream {server.name!r} sent a malformed input request {key!r}")
        needed = BACK_CHANNEL.get(method)
        if needed is None:
            raise UpstreamProtocolError(
                server.name, f"upstream {server.name!r} asked the client {method!r}, which is no input request"
            )
        if needed not in declared:
            raise MissingClientCapability(
                f"upstream {server.name!r} asked the client {method}, which needs the client capability "
                f"{needed!r}; the client did not declare it",
                data={"requiredCapabilities": {needed: {}}},
            )
        inputs[key] = (method, cast(JsonObject, params))
    return inputs


def _result(server: ServerSettings, method: str, answer: Answer) -> JsonObject:
    if answer.result is not None:
        return answer.result
    error = answer.error or {}
    raise _ClientRefused(
        server.name, f"the client answered upstream {server.name!r}'s {method} with an error: {error.get('message')}"
    )


class _ClientRefused(UpstreamError):
    """The client answered an input request with an error: a 2026-07-28 retry carries results only."""
