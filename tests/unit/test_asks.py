"""The hub's own requests to a client: the answer is handed over on the instance that waits, or
through the shared store from any other; only the asking session can answer; waiting ends."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from shared.errors import InvalidRequest, UpstreamTimeout
from shared.hub.asks import Asks
from shared.identity.grants import MemoryGrantStore
from shared.mcp.jsonrpc import Response

pytestmark = pytest.mark.anyio
KEY = b"k" * 32


async def test_an_answer_on_the_waiting_instance_is_handed_over_without_the_store() -> None:
    store = MemoryGrantStore()
    asks = Asks(KEY, store, clock=lambda: 0.0)
    ask_id = asks.new("session-1")
    waiting = asyncio.ensure_future(asks.wait(ask_id))
    await asks.deliver("session-1", Response(ask_id, {"content": {"type": "text", "text": "hi"}}))
    answer = await waiting
    assert answer.result == {"content": {"type": "text", "text": "hi"}}
    assert await store.items("ask-answer", now=0.0) == []


async def test_an_answer_on_another_instance_reaches_the_waiting_one_through_the_store() -> None:
    store = MemoryGrantStore()
    waiting_instance, other_instance = Asks(KEY, store, clock=lambda: 0.0), Asks(KEY, store, clock=lambda: 0.0)
    ask_id = waiting_instance.new("session-1")
    waiting = asyncio.ensure_future(waiting_instance.wait(ask_id))
    await other_instance.deliver("session-1", Response(ask_id, error={"code": -1, "message": "declined"}))
    answer = await asyncio.wait_for(waiting, 5)
    assert answer.error == {"code": -1, "message": "declined"}
    assert await store.items("ask-answer", now=0.0) == []  # taken once


async def test_another_session_cannot_answer_the_hubs_request() -> None:
    asks = Asks(KEY, MemoryGrantStore(), clock=lambda: 0.0)
    ask_id = asks.new("session-1")
    with pytest.raises(InvalidRequest, match="answers no request the hub sent this session"):
        await asks.deliver("session-2", Response(ask_id, {}))
    with pytest.raises(InvalidRequest):
        await asks.deliver("session-1", Response(ask_id.replace("mcphub-ask.", "mcphub-ask.x"), {}))
    asks.forget(ask_id)


async def test_waiting_for_an_answer_that_never_comes_ends_at_the_deadline() -> None:
    ticks = itertools.count(0, 0.5)  # each look at the clock is half a second later
    asks = Asks(KEY, MemoryGrantStore(), clock=lambda: next(ticks), timeout_seconds=2)
    ask_id = asks.new("session-1")
    with pytest.raises(UpstreamTimeout, match="did not answer the hub's request within 2 s"):
        await asks.wait(ask_id)
    with pytest.raises(InvalidRequest):  # nobody waits any more, and the late answer is still checked
        await asks.deliver("session-2", Response(ask_id, {}))


class AnswerDuringALook(MemoryGrantStore):
    """A store whose first empty `take` lasts until the answer comes and the deadline has passed
    (Table Storage answers in milliseconds: the answer can come while the waiter looks)."""

    def __init__(self, meanwhile: Callable[[], Awaitable[None]]) -> None:
        super().__init__()
        self.meanwhile = meanwhile
        self.now = 0.0

    async def take(self, kind: str, key: str, *, now: float) -> Any:
        found = await super().take(kind, key, now=now)
        if found is None and self.now == 0.0:
            self.now = 1.9  # the answer comes just before the 2 s deadline...
            await self.meanwhile()
            self.now = 2.5  # ...and the waiter looks again just after it
        return found


@pytest.mark.parametrize("where", ["waiting instance", "other instance"])
async def test_an_answer_that_comes_while_the_waiter_looks_at_the_deadline_is_taken_not_dropped(where: str) -> None:
    asks: list[Asks] = []

    async def answer() -> None:
        await asks[0 if where == "waiting instance" else 1].deliver("session-1", Response(ask_id, {"ok": True}))

    store = AnswerDuringALook(answer)
    asks += [Asks(KEY, store, clock=lambda: store.now, timeout_seconds=2) for _ in range(2)]
    ask_id = asks[0].new("session-1")
    assert (await asyncio.wait_for(asks[0].wait(ask_id), 5)).result == {"ok": True}
