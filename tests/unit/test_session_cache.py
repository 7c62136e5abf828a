from __future__ import annotations

import pytest

from shared.errors import SessionNotFound
from shared.sessions.cache import SessionCache
from shared.sessions.memory import MemorySessionStore
from shared.sessions.model import SessionRecord, UpstreamSession

pytestmark = pytest.mark.anyio


class CountingStore(MemorySessionStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.touches = 0

    async def get(self, session_id: str, *, now: float, ttl_seconds: float) -> SessionRecord | None:
        self.reads += 1
        return await super().get(session_id, now=now, ttl_seconds=ttl_seconds)

    async def touch(self, session_id: str, last_seen: float) -> bool:
        self.touches += 1
        return await super().touch(session_id, last_seen)


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(store: CountingStore, clock: Clock, max_entries: int = 100) -> SessionCache:
    return SessionCache(store, clock=clock, ttl_seconds=3600, touch_seconds=60, max_entries=max_entries)


async def test_warm_session_costs_no_store_round_trip() -> None:
    store, clock = CountingStore(), Clock()
    cache = make(store, clock)
    created = await cache.create(SessionRecord("s1", "", "alice", "2025-11-25"))
    for _ in range(10):
        assert await cache.load("s1", "alice") == created
    assert (store.reads, store.touches) == (0, 0)


async def test_cold_session_costs_exactly_one_read() -> None:
    store, clock = CountingStore(), Clock()
    await make(store, clock).create(SessionRecord("s1", "", "alice", "2025-11-25"))
    other_instance = make(store, clock)
    await other_instance.load("s1", "alice")
    await other_instance.load("s1", "alice")
    assert store.reads == 1


async def test_last_seen_is_written_at_most_once_per_interval() -> None:
    store, clock = CountingStore(), Clock()
    cache = make(store, clock)
    await cache.create(SessionRecord("s1", "", "alice", "2025-11-25"))
    for step in range(100):
        clock.now = 1000.0 + step  # 100 s of traffic, one request a second
        await cache.load("s1", "alice")
    await cache.drain()
    assert store.touches == 1


async def test_another_users_session_id_looks_unknown() -> None:
    cache = make(CountingStore(), Clock())
    await cache.create(SessionRecord("s1", "", "alice", "2025-11-25"))
    with pytest.raises(SessionNotFound) as caught:
        await cache.load("s1", "mallory")
    with pytest.raises(SessionNotFound) as unknown:
        await cache.load("s2", "mallory")
    assert caught.value.message == unknown.value.message


async def test_session_deleted_elsewhere_is_dropped_at_next_revalidation() -> None:
    store, clock = CountingStore(), Clock()
    cache = make(store, clock)
    await cache.create(SessionRecord("s1", "", "alice", "2025-11-25"))
    await store.delete("s1")  # another instance ended it
    clock.now += 61
    await cache.load("s1", "alice")  # still cached; schedules the revalidating touch
    await cache.drain()
    with pytest.raises(SessionNotFound):
        await cache.load("s1", "alice")


async def test_upstream_sessions_are_persisted_and_cached() -> None:
    store, clock = CountingStore(), Clock()
    cache = make(store, clock)
    record = await cache.create(SessionRecord("s1", "", "alice", "2025-11-25"))
    await cache.put_upstream(record, "notes", UpstreamSession("u1", "2025-11-25"))
    assert (await cache.load("s1", "alice")).upstreams["notes"].session_id == "u1"
    stored = await store.get("s1", now=clock.now, ttl_seconds=3600)
    assert stored is not None
    assert "notes" in stored.upstreams
