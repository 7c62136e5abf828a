"""One contract, every SessionStore: the in-memory fake and Table Storage (real Azurite)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from shared.sessions.memory import MemorySessionStore
from shared.sessions.model import SessionRecord, UpstreamSession, new_session_id
from shared.sessions.store import SessionStore
from shared.sessions.table import TableSessionStore

pytestmark = pytest.mark.anyio
TTL = 100.0


@pytest.fixture(params=["memory", pytest.param("table", marks=pytest.mark.integration)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[SessionStore]:
    if request.param == "memory":
        yield MemorySessionStore()
        return
    connection: str = request.getfixturevalue("storage_connection_string")
    table = TableSessionStore.from_connection_string(connection, f"t{uuid.uuid4().hex[:16]}")
    yield table
    await table.close()


def record(**changes: object) -> SessionRecord:
    base = SessionRecord(
        session_id=new_session_id(),
        route="",
        owner="user-1",
        protocol_version="2025-11-25",
        client_capabilities={"sampling": {}},
        client_info={"name": "test", "version": "1"},
        created_at=1000.0,
        last_seen=1000.0,
    )
    return SessionRecord(**{**{f: getattr(base, f) for f in base.__slots__}, **changes})  # type: ignore[arg-type] - slots read back by name: the values are the dataclass's own


async def test_created_session_reads_back_identically(store: SessionStore) -> None:
    created = record(upstreams={"notes": UpstreamSession("up-1", "2025-06-18")})
    await store.create(created)
    assert await store.get(created.session_id, now=1001.0, ttl_seconds=TTL) == created


async def test_unknown_session_is_none(store: SessionStore) -> None:
    assert await store.get("nope", now=0.0, ttl_seconds=TTL) is None


async def test_creating_an_existing_id_is_refused(store: SessionStore) -> None:
    created = record()
    await store.create(created)
    with pytest.raises(ValueError, match="already exists"):
        await store.create(created)


async def test_idle_session_expires_after_ttl(store: SessionStore) -> None:
    created = record()
    await store.create(created)
    assert await store.get(created.session_id, now=1000.0 + TTL + 1, ttl_seconds=TTL) is None


async def test_touch_keeps_a_session_alive(store: SessionStore) -> None:
    created = record()
    await store.create(created)
    assert await store.touch(created.session_id, 1090.0)
    found = await store.get(created.session_id, now=1000.0 + TTL + 1, ttl_seconds=TTL)
    assert found is not None
    assert found.last_seen == 1090.0


async def test_upstream_sessions_written_separately_are_all_kept(store: SessionStore) -> None:
    created = record()
    await store.create(created)
    assert await store.put_upstream(created.session_id, "notes", UpstreamSession("n1", "2025-11-25"))
    assert await store.put_upstream(created.session_id, "clock", UpstreamSession(None, "2025-06-18"))
    found = await store.get(created.session_id, now=1000.0, ttl_seconds=TTL)
    assert found is not None
    assert found.upstreams == {
        "notes": UpstreamSession("n1", "2025-11-25"),
        "clock": UpstreamSession(None, "2025-06-18"),
    }


async def test_writes_to_a_deleted_session_report_it_gone(store: SessionStore) -> None:
    created = record()
    await store.create(created)
    assert await store.delete(created.session_id)
    assert not await store.delete(created.session_id)
    assert not await store.touch(created.session_id, 1001.0)
    assert not await store.put_upstream(created.session_id, "notes", UpstreamSession("x", "2025-11-25"))
    assert await store.get(created.session_id, now=1000.0, ttl_seconds=TTL) is None


async def test_a_discarded_session_is_gone_and_discarding_it_again_is_no_error(store: SessionStore) -> None:
    created = record()
    await store.create(created)
    await store.discard(created.session_id)
    assert await store.get(created.session_id, now=1000.0, ttl_seconds=TTL) is None
    await store.discard(created.session_id)
    assert not await store.delete(created.session_id)


async def test_purge_removes_only_expired_sessions(store: SessionStore) -> None:
    old, fresh = record(last_seen=10.0), record(last_seen=1000.0)
    await store.create(old)
    await store.create(fresh)
    assert await store.purge_expired(now=1000.0, ttl_seconds=TTL) == 1
    assert await store.get(fresh.session_id, now=1000.0, ttl_seconds=TTL) is not None


async def test_live_sessions_are_counted_and_expired_ones_are_not(store: SessionStore) -> None:
    for seen in (10.0, 900.0, 1000.0):
        await store.create(record(last_seen=seen))
    assert await store.count_live(now=1000.0, ttl_seconds=TTL) == 2


async def test_live_sessions_of_one_tenant_count_only_its_users(store: SessionStore) -> None:
    for owner in ("tenant-a:u1", "tenant-a:u2", "tenant-ab:u3", "tenant-b:u4", "tenant-a"):
        await store.create(record(owner=owner))
    await store.create(record(owner="tenant-a:old", last_seen=10.0))
    assert await store.count_live(now=1000.0, ttl_seconds=TTL, tenant="tenant-a") == 2
    assert await store.count_live(now=1000.0, ttl_seconds=TTL, tenant="tenant-b") == 1
    assert await store.count_live(now=1000.0, ttl_seconds=TTL, tenant="tenant-c") == 0


MALFORMED = ["a/b", "../x", "x#y", "x?y", "a\\b", "\x00" * 43, "é" * 43, "", "A" * 42, "A" * 44, "A" * 10_000]


@pytest.mark.parametrize("session_id", MALFORMED, ids=range(len(MALFORMED)))
async def test_a_malformed_session_id_is_simply_not_found(store: SessionStore, session_id: str) -> None:
    assert await store.get(session_id, now=1000.0, ttl_seconds=TTL) is None
    assert await store.touch(session_id, 1001.0) is False
    assert await store.put_upstream(session_id, "notes", UpstreamSession("u", "2025-11-25")) is False
    assert await store.delete(session_id) is False
    await store.discard(session_id)
