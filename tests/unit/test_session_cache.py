from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from shared.errors import SessionNotFound
from shared.sessions.cache import SessionCache
from shared.sessions.ids import SessionIds
from shared.sessions.memory import MemorySessionStore
from shared.sessions.model import SessionRecord, UpstreamSession, new_session_id, well_formed_session_id

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


# ---- write-behind: initialize is answered before the session's insert lands -----------------


class GatedStore(CountingStore):
    """Inserts wait for `gate`; the first `failures` inserts fail as a storage outage would."""

    def __init__(self, *, failures: int = 0) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.failures = failures
        self.inserts = 0

    async def create(self, record: SessionRecord) -> None:
        await self.gate.wait()
        self.inserts += 1
        if self.inserts <= self.failures:
            raise OSError("storage unavailable")
        await super().create(record)


KEY = b"k" * 32


def writing_behind(store: CountingStore, clock: Clock, seconds: float = 2.0) -> SessionCache:
    return SessionCache(
        store,
        clock=clock,
        ttl_seconds=3600,
        touch_seconds=60,
        max_entries=100,
        ids=SessionIds(KEY),
        write_behind_seconds=seconds,
    )


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0)


async def test_create_returns_before_the_insert_lands_and_this_instance_serves_the_session() -> None:
    store, clock = GatedStore(), Clock()
    cache = writing_behind(store, clock)
    record = await cache.create(SessionRecord(cache.new_id(), "", "alice", "2025-11-25"))
    assert await store.get(record.session_id, now=clock.now, ttl_seconds=3600) is None
    assert await cache.load(record.session_id, "alice") == record
    store.gate.set()
    await cache.drain()
    assert await store.get(record.session_id, now=clock.now, ttl_seconds=3600) is not None


async def test_another_instance_waits_for_a_new_session_still_being_written() -> None:
    store, clock = GatedStore(), Clock()
    creator, other = writing_behind(store, clock), writing_behind(store, clock)
    record = await creator.create(SessionRecord(creator.new_id(), "", "alice", "2025-11-25"))
    loading = asyncio.ensure_future(other.load(record.session_id, "alice"))
    await until(lambda: store.reads >= 2)  # it found no row, and read again
    assert not loading.done()
    store.gate.set()
    assert (await loading).session_id == record.session_id
    await creator.drain()


async def test_unknown_id_without_a_recent_stamp_of_this_hub_is_refused_after_one_read() -> None:
    store, clock = GatedStore(), Clock()
    cache = writing_behind(store, clock)
    unstamped, foreign = new_session_id(), SessionIds(b"another key" * 3).issue(clock.now)
    older_than_the_window = SessionIds(KEY).issue(clock.now - 3.0)  # the window is 2 s
    for session_id in (unstamped, foreign, older_than_the_window):
        store.reads = 0
        with pytest.raises(SessionNotFound):
            await cache.load(session_id, "alice")
        assert store.reads == 1


async def test_a_session_whose_row_never_lands_is_refused_once_its_window_is_over() -> None:
    store, clock = GatedStore(), Clock()
    cache = writing_behind(store, clock, seconds=0.05)
    with pytest.raises(SessionNotFound):
        await cache.load(SessionIds(KEY).issue(clock.now), "alice")
    assert store.reads > 1


async def test_upstream_write_waits_for_the_sessions_insert() -> None:
    store, clock = GatedStore(), Clock()
    cache = writing_behind(store, clock)
    record = await cache.create(SessionRecord(cache.new_id(), "", "alice", "2025-11-25"))
    writing = asyncio.ensure_future(cache.put_upstream(record, "notes", UpstreamSession("u1", "2025-11-25")))
    await until(lambda: bool(store.gate._waiters))  # type: ignore[attr-defined] - the insert is parked
    assert not writing.done()
    store.gate.set()
    await writing
    stored = await store.get(record.session_id, now=clock.now, ttl_seconds=3600)
    assert stored is not None
    assert stored.upstreams["notes"].session_id == "u1"


async def test_insert_is_retried_after_a_storage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shared.sessions.cache._INSERT_RETRIES", (0.0, 0.0, 0.0))
    store, clock = GatedStore(failures=2), Clock()
    store.gate.set()
    cache = writing_behind(store, clock)
    record = await cache.create(SessionRecord(cache.new_id(), "", "alice", "2025-11-25"))
    await cache.drain()
    assert store.inserts == 3
    assert await store.get(record.session_id, now=clock.now, ttl_seconds=3600) is not None
    assert await cache.load(record.session_id, "alice") == record


async def test_session_whose_insert_keeps_failing_is_dropped_so_its_client_starts_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("shared.sessions.cache._INSERT_RETRIES", (0.0, 0.0, 0.0))
    store, clock = GatedStore(failures=10), Clock()
    store.gate.set()
    cache = writing_behind(store, clock, seconds=0.05)
    record = await cache.create(SessionRecord(cache.new_id(), "", "alice", "2025-11-25"))
    await cache.drain()
    assert store.inserts == 4
    with pytest.raises(SessionNotFound):
        await cache.load(record.session_id, "alice")


async def test_without_write_behind_create_waits_for_the_insert() -> None:
    store, clock = GatedStore(), Clock()
    cache = writing_behind(store, clock, seconds=0.0)
    creating = asyncio.ensure_future(cache.create(SessionRecord(cache.new_id(), "", "alice", "2025-11-25")))
    await until(lambda: bool(store.gate._waiters))  # type: ignore[attr-defined] - the insert is parked
    assert not creating.done()
    store.gate.set()
    await creating
    assert store.inserts == 1


def test_session_ids_carry_their_issue_time_under_the_hubs_key() -> None:
    ids = SessionIds(KEY)
    session_id = ids.issue(1_700_000_000.1234)
    assert well_formed_session_id(session_id)
    assert ids.issued_at(session_id) == pytest.approx(1_700_000_000.123, abs=0.001)
    assert SessionIds(b"x" * 32).issued_at(session_id) is None
    tampered = ("A" if session_id[3] != "A" else "B").join((session_id[:3], session_id[4:]))
    assert ids.issued_at(tampered) is None
    assert ids.issued_at(new_session_id()) is None
    assert ids.issued_at("not an id") is None
    assert len({ids.issue(1.0) for _ in range(100)}) == 100


async def test_a_session_ended_here_is_refused_at_once_not_waited_for_as_if_still_being_written() -> None:
    store, clock = GatedStore(), Clock()
    store.gate.set()
    cache = writing_behind(store, clock)
    record = await cache.create(SessionRecord(cache.new_id(), "", "alice", "2025-11-25"))
    await cache.delete(record.session_id, "alice")
    store.reads = 0
    with pytest.raises(SessionNotFound):
        await cache.load(record.session_id, "alice")
    assert store.reads == 1


async def test_after_a_failed_insert_new_sessions_are_written_before_the_answer_until_one_lands(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("shared.sessions.cache._INSERT_RETRIES", (0.0, 0.0, 0.0))
    store, clock = GatedStore(failures=1), Clock()
    store.gate.set()
    cache = writing_behind(store, clock)
    await cache.create(SessionRecord(cache.new_id(), "", "alice", "2025-11-25"))
    await cache.drain()  # failed once, then landed on its retry
    store.gate.clear()
    creating = asyncio.ensure_future(cache.create(SessionRecord(cache.new_id(), "", "alice", "2025-11-25")))
    await until(lambda: bool(store.gate._waiters))  # type: ignore[attr-defined] - the insert is parked
    assert not creating.done()  # the store is suspect: this one is written before the answer
    store.gate.set()
    await creating
    store.gate.clear()  # that insert succeeded: the next is written behind again
    await cache.create(SessionRecord(cache.new_id(), "", "alice", "2025-11-25"))
    store.gate.set()
    await cache.drain()


async def test_an_insert_pending_too_long_makes_the_next_session_wait_for_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("shared.sessions.cache._SUSPECT_AFTER_SECONDS", -1.0)  # any pending insert is too old
    store, clock = GatedStore(), Clock()
    cache = writing_behind(store, clock)
    await cache.create(SessionRecord(cache.new_id(), "", "alice", "2025-11-25"))  # answered, its insert parked
    creating = asyncio.ensure_future(cache.create(SessionRecord(cache.new_id(), "", "alice", "2025-11-25")))
    await until(lambda: len(store.gate._waiters) == 2)  # type: ignore[attr-defined] - both inserts parked
    assert not creating.done()
    store.gate.set()
    await creating
    await cache.drain()
