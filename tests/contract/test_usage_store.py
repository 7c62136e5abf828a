"""One contract, every UsageStore: in memory and Table Storage (real Azurite)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from shared.usage.store import MemoryUsageStore, TableUsageStore, UsageStore, partition

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory", pytest.param("table", marks=pytest.mark.integration)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[UsageStore]:
    if request.param == "memory":
        yield MemoryUsageStore()
        return
    connection: str = request.getfixturevalue("storage_connection_string")
    table = TableUsageStore.from_connection_string(connection, f"u{uuid.uuid4().hex[:16]}")
    yield table
    await table.close()


def row(granularity: str, start: int, key: str, count: int) -> dict[str, object]:
    return {"PartitionKey": partition(granularity, start), "RowKey": f"server|{key}|w1", "Count": count}


async def test_a_rewritten_row_holds_only_its_latest_totals(store: UsageStore) -> None:
    await store.upsert([row("m5", 300, "notes", 1), row("m5", 300, "clock", 1)])
    await store.upsert([row("m5", 300, "notes", 5)])
    rows = await store.read("m5", 0, 600)
    assert sorted((r["RowKey"], r["Count"]) for r in rows) == [("server|clock|w1", 1), ("server|notes|w1", 5)]


async def test_reads_cover_windows_starting_in_the_range_of_one_granularity(store: UsageStore) -> None:
    await store.upsert([row("m5", start, "notes", 1) for start in (0, 300, 600)] + [row("h1", 0, "notes", 3)])
    assert [r["PartitionKey"] for r in await store.read("m5", 300, 600)] == [partition("m5", 300)]
    assert [r["Count"] for r in await store.read("h1", 0, 3600)] == [3]


async def test_retention_deletes_windows_before_the_cutoff(store: UsageStore) -> None:
    await store.upsert([row("m5", 0, "a", 1), row("m5", 3600, "a", 1), row("h1", 0, "a", 1), row("h1", 3600, "a", 1)])
    assert await store.delete_before(3600) == 2
    assert len(await store.read("m5", 0, 7200)) + len(await store.read("h1", 0, 7200)) == 2
