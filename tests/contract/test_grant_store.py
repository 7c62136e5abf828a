"""One contract, every GrantStore: the in-memory fake and Table Storage (real Azurite)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from shared.identity.grants import GrantStore, MemoryGrantStore, TableGrantStore

pytestmark = pytest.mark.anyio
NOW = 1000.0


@pytest.fixture(params=["memory", pytest.param("table", marks=pytest.mark.integration)])
async def grants(request: pytest.FixtureRequest) -> AsyncIterator[GrantStore]:
    if request.param == "memory":
        yield MemoryGrantStore()
        return
    connection: str = request.getfixturevalue("storage_connection_string")
    table = TableGrantStore.from_connection_string(connection, f"g{uuid.uuid4().hex[:16]}")
    yield table
    await table.close()


async def test_a_value_reads_back_until_it_expires(grants: GrantStore) -> None:
    await grants.put("code", "c1", {"user": "alice", "n": [1, 2]}, expires_at=NOW + 60)
    assert await grants.get("code", "c1", now=NOW) == {"user": "alice", "n": [1, 2]}
    assert await grants.get("code", "c1", now=NOW + 60) is None


async def test_kinds_are_separate_namespaces(grants: GrantStore) -> None:
    await grants.put("client", "x", {"a": 1}, expires_at=None)
    assert await grants.get("code", "x", now=NOW) is None


async def test_add_refuses_a_live_key_but_replaces_an_expired_one(grants: GrantStore) -> None:
    assert await grants.add("client", "id-1", {"v": 1}, expires_at=NOW + 10, now=NOW)
    assert not await grants.add("client", "id-1", {"v": 2}, expires_at=NOW + 10, now=NOW)
    assert await grants.add("client", "id-1", {"v": 3}, expires_at=None, now=NOW + 11)
    assert await grants.get("client", "id-1", now=NOW + 11) == {"v": 3}


async def test_take_hands_a_value_out_once(grants: GrantStore) -> None:
    await grants.put("code", "c1", {"user": "alice"}, expires_at=NOW + 60)
    assert await grants.take("code", "c1", now=NOW) == {"user": "alice"}
    assert await grants.take("code", "c1", now=NOW) is None


async def test_of_two_concurrent_takes_exactly_one_wins(grants: GrantStore) -> None:
    await grants.put("code", "c2", {"user": "alice"}, expires_at=NOW + 60)
    results = await asyncio.gather(*(grants.take("code", "c2", now=NOW) for _ in range(4)))
    assert sum(result is not None for result in results) == 1


async def test_an_expired_value_cannot_be_taken(grants: GrantStore) -> None:
    await grants.put("code", "c3", {"user": "alice"}, expires_at=NOW + 1)
    assert await grants.take("code", "c3", now=NOW + 2) is None


async def test_keys_that_are_urls_work_like_any_other(grants: GrantStore) -> None:
    key = "https://client.example/metadata.json?x=1#frag"
    await grants.put("client", key, {"cimd": True}, expires_at=None)
    assert await grants.get("client", key, now=NOW) == {"cimd": True}
    assert await grants.items("client", now=NOW) == [(key, {"cimd": True})]


async def test_items_lists_only_live_values_of_a_kind(grants: GrantStore) -> None:
    await grants.put("key", "k1", {"n": 1}, expires_at=None)
    await grants.put("key", "k2", {"n": 2}, expires_at=NOW - 1)
    await grants.put("other", "k3", {"n": 3}, expires_at=None)
    assert await grants.items("key", now=NOW) == [("k1", {"n": 1})]


async def test_delete_reports_whether_there_was_something(grants: GrantStore) -> None:
    await grants.put("family", "f1", {}, expires_at=None)
    assert await grants.delete("family", "f1")
    assert not await grants.delete("family", "f1")


async def test_purge_deletes_expired_grants_and_keeps_live_and_lasting_ones(grants: GrantStore) -> None:
    await grants.put("code", "old", {"n": 1}, expires_at=100.0)
    await grants.put("client", "old-client", {"n": 2}, expires_at=150.0)
    await grants.put("code", "live", {"n": 3}, expires_at=300.0)
    await grants.put("key", "forever", {"n": 4}, expires_at=None)
    assert await grants.purge(200.0) == 2
    assert await grants.get("code", "live", now=200.0) == {"n": 3}
    assert await grants.get("key", "forever", now=200.0) == {"n": 4}
    assert await grants.purge(200.0) == 0
