"""A 2026-07-28 upstream's input_required, as requests to a handshake-era client: each round's
requests go out with the hub's ask IDs, the answers go back upstream keyed as asked with the
upstream's requestState, and whatever cannot be carried ends the call with a clear error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from typing import Any

import pytest

from shared.errors import MissingClientCapability, UpstreamError, UpstreamProtocolError
from shared.hub.asks import Asks
from shared.hub.rounds import MAX_ROUNDS, rounds
from shared.identity.grants import MemoryGrantStore
from shared.mcp.jsonrpc import Message, Notification, Request, Response
from shared.settings import ServerSettings

pytestmark = pytest.mark.anyio
SERVER = ServerSettings.model_validate({"name": "new", "url": "http://upstream.test/mcp"})
CALL = Request(7, "tools/call", {"name": "greet", "arguments": {"who": "me"}})
DECLARED: dict[str, Any] = {"sampling": {}, "elicitation": {}, "roots": {}}
ELICIT = {"method": "elicitation/create", "params": {"message": "Name?", "requestedSchema": {"type": "object"}}}
ROOTS = {"method": "roots/list", "params": {}}


def needs(requests: dict[str, Any], state: str | None = "s1") -> Response:
    result: dict[str, Any] = {"resultType": "input_required", "inputRequests": requests}
    if state is not None:
        result["requestState"] = state
    return Response(CALL.id, result)


async def stream(*messages: Message) -> AsyncGenerator[Message]:
    for message in messages:
        yield message


class Upstream:
    """Answers each retry with the next of `replies`, and keeps the retries it was sent."""

    def __init__(self, *replies: Sequence[Message]) -> None:
        self._replies = list(replies)
        self.retries: list[Request] = []

    def __call__(self, retry: Request) -> AsyncGenerator[Message]:
        self.retries.append(retry)
        return stream(*self._replies.pop(0))


async def answer_all(asks: Asks, relayed: AsyncGenerator[Message], answers: dict[str, Any]) -> list[Message]:
    """Read the stream as the client would: answer each request by its method, keep the rest."""
    seen: list[Message] = []
    async for message in relayed:
        seen.append(message)
        if isinstance(message, Request):
            answer = answers[message.method]
            reply = (
                Response(message.id, answer) if "error" not in answer else Response(message.id, error=answer["error"])
            )
            await asks.deliver("hub-session", reply)
    return seen


def bridged(asks: Asks, first: AsyncGenerator[Message], upstream: Upstream, declared: dict[str, Any] = DECLARED):
    return rounds(asks, SERVER, CALL, first, upstream, hub_session="hub-session", declared=declared)


async def test_a_complete_answer_passes_as_it_came() -> None:
    asks = Asks(b"k" * 32, MemoryGrantStore(), clock=lambda: 0.0)
    note = Notification("notifications/progress", {"progressToken": 1, "progress": 1})
    done = Response(CALL.id, {"content": [], "resultType": "complete"})
    seen = [m async for m in bridged(asks, stream(note, done), Upstream())]
    assert seen == [note, done]


async def test_each_input_request_reaches_the_client_and_the_retry_carries_the_answers_and_state() -> None:
    asks = Asks(b"k" * 32, MemoryGrantStore(), clock=lambda: 0.0)
    done = Response(CALL.id, {"content": [{"type": "text", "text": "Hello, Ada"}]})
    upstream = Upstream([done])
    name = {"action": "accept", "content": {"name": "Ada"}}
    roots = {"roots": [{"uri": "file:///home/dev"}]}
    relayed = bridged(asks, stream(needs({"user": ELICIT, "where": ROOTS})), upstream)
    seen = await answer_all(asks, relayed, {"elicitation/create": name, "roots/list": roots})
    asked = [m for m in seen if isinstance(m, Request)]
    assert [m.method for m in asked] == ["elicitation/create", "roots/list"]
    assert all(asks.owns(m.id) for m in asked)
    assert asked[0].params == ELICIT["params"]
    assert seen[-1] == done
    (retry,) = upstream.retries
    assert retry.id == CALL.id
    assert retry.method == "tools/call"
    assert retry.params["arguments"] == {"who": "me"}
    assert retry.params["inputResponses"] == {"user": name, "where": roots}
    assert retry.params["requestState"] == "s1"


async def test_a_second_round_replaces_the_first_rounds_answers_and_state() -> None:
    asks = Asks(b"k" * 32, MemoryGrantStore(), clock=lambda: 0.0)
    done = Response(CALL.id, {"content": []})
    upstream = Upstream([needs({"again": ELICIT}, "s2")], [done])
    relayed = bridged(asks, stream(needs({"first": ELICIT}, None)), upstream)
    await answer_all(asks, relayed, {"elicitation/create": {"action": "decline"}})
    first, second = upstream.retries
    assert "requestState" not in first.params
    assert first.params["inputResponses"] == {"first": {"action": "decline"}}
    assert second.params["inputResponses"] == {"again": {"action": "decline"}}
    assert second.params["requestState"] == "s2"


async def test_a_request_the_client_did_not_declare_is_refused_with_32021_naming_the_capability() -> None:
    asks = Asks(b"k" * 32, MemoryGrantStore(), clock=lambda: 0.0)
    relayed = bridged(asks, stream(needs({"user": ELICIT})), Upstream(), declared={"sampling": {}})
    with pytest.raises(MissingClientCapability) as refused:
        await answer_all(asks, relayed, {})
    assert refused.value.data == {"requiredCapabilities": {"elicitation": {}}}


@pytest.mark.parametrize(
    "requests",
    [{}, {"x": "not an object"}, {"x": {"method": "tools/call", "params": {}}}, {"x": {"method": 3}}],
)
async def test_malformed_input_requests_are_the_upstreams_error(requests: dict[str, Any]) -> None:
    asks = Asks(b"k" * 32, MemoryGrantStore(), clock=lambda: 0.0)
    with pytest.raises(UpstreamProtocolError, match="'new'"):
        await answer_all(asks, bridged(asks, stream(needs(requests)), Upstream()), {})


async def test_an_upstream_that_asks_without_end_is_stopped_after_the_round_limit() -> None:
    asks = Asks(b"k" * 32, MemoryGrantStore(), clock=lambda: 0.0)
    upstream = Upstream(*([needs({"again": ROOTS})] for _ in range(MAX_ROUNDS)))
    with pytest.raises(UpstreamProtocolError, match=f"{MAX_ROUNDS} times"):
        await answer_all(asks, bridged(asks, stream(needs({"first": ROOTS})), upstream), {"roots/list": {"roots": []}})
    assert len(upstream.retries) == MAX_ROUNDS


async def test_a_client_error_ends_the_call_naming_the_client_and_the_upstream() -> None:
    asks = Asks(b"k" * 32, MemoryGrantStore(), clock=lambda: 0.0)
    upstream = Upstream()
    declined = {"error": {"code": -1, "message": "the user declined"}}
    with pytest.raises(UpstreamError, match="the user declined") as failed:
        await answer_all(
            asks, bridged(asks, stream(needs({"user": ELICIT})), upstream), {"elicitation/create": declined}
        )
    assert "'new'" in failed.value.message
    assert upstream.retries == []


async def test_a_client_that_leaves_mid_round_leaves_no_ask_waiting() -> None:
    asks = Asks(b"k" * 32, MemoryGrantStore(), clock=lambda: 0.0)
    relayed = bridged(asks, stream(needs({"user": ELICIT, "where": ROOTS})), Upstream())
    asked = await anext(relayed)
    assert isinstance(asked, Request)
    await relayed.aclose()  # the client disconnected before answering
    await asyncio.sleep(0)
    assert asks._waiting == {}  # pyright: ignore[reportPrivateUsage] - the leak this test is about


async def test_an_answer_that_never_comes_ends_the_round_and_stops_every_other_wait() -> None:
    now = [0.0]
    asks = Asks(b"k" * 32, MemoryGrantStore(), clock=lambda: now[0], timeout_seconds=1.0)
    relayed = bridged(asks, stream(needs({"user": ELICIT, "where": ROOTS})), Upstream())
    first, second = await anext(relayed), await anext(relayed)
    assert isinstance(first, Request)
    assert isinstance(second, Request)
    await asks.deliver("hub-session", Response(second.id, {"roots": []}))  # one answer of two
    waiting = asyncio.ensure_future(anext(relayed))
    await asyncio.sleep(0.05)
    now[0] = 2.0  # past the ask timeout
    with pytest.raises(UpstreamError, match="did not answer"):
        await asyncio.wait_for(waiting, 5)
    assert asks._waiting == {}  # pyright: ignore[reportPrivateUsage] - nothing left polling
