"""One contract, every AuditStore (memory and Table Storage), and the hash-chained trail over both:
records land in order, queries page newest hour first, and tampering of each kind is found."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableClient

from shared.audit.blocks import row_mac
from shared.audit.sources import vault_keys
from shared.audit.store import (
    HEADS,
    AuditConflict,
    AuditStore,
    MemoryAuditStore,
    Query,
    TableAuditStore,
    partition_key,
)
from shared.audit.trail import AuditTrail
from shared.sealing import Sealer

pytestmark = pytest.mark.anyio
HOUR = 490_000  # 2025-11-22 16:00 UTC, as hours since the epoch
KEYS = Sealer([b"k" * 32])


@dataclass
class Backend:
    store: AuditStore
    raw: TableClient | None  # the table itself, for tampering as an attacker with storage access would

    async def change(self, partition: str, row: str, **changes: Any) -> None:
        if self.raw is None:
            assert isinstance(self.store, MemoryAuditStore)
            self.store.rows[(partition, row)].update(changes)
        else:
            await self.raw.update_entity({"PartitionKey": partition, "RowKey": row, **changes}, mode=UpdateMode.MERGE)

    async def remove(self, partition: str, row: str | None = None) -> None:
        rows = [r for r in await self.store.query(Query(0, 10**9, limit=10**6)) if r["PartitionKey"] == partition]
        for found in rows:
            if row is not None and found["RowKey"] != row:
                continue
            if self.raw is None:
                assert isinstance(self.store, MemoryAuditStore)
                del self.store.rows[(partition, found["RowKey"])]
            else:
                await self.raw.delete_entity(partition, found["RowKey"])

    async def remove_head(self, partition: str) -> None:
        if self.raw is None:
            assert isinstance(self.store, MemoryAuditStore)
            del self.store.rows[(HEADS, partition)]
        else:
            await self.raw.delete_entity(HEADS, partition)


@pytest.fixture(params=["memory", pytest.param("table", marks=pytest.mark.integration)])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    if request.param == "memory":
        yield Backend(MemoryAuditStore(), None)
        return
    connection: str = request.getfixturevalue("storage_connection_string")
    name = f"a{uuid.uuid4().hex[:16]}"
    store = TableAuditStore.from_connection_string(connection, name)
    raw = TableClient.from_connection_string(connection, table_name=name)
    yield Backend(store, raw)
    await raw.close()
    await store.close()


class Clock:
    def __init__(self) -> None:
        self.now = HOUR * 3600 + 60.0

    def __call__(self) -> float:
        self.now += 1
        return self.now


def trail_on(backend: Backend, keys: Sealer = KEYS, clock: Clock | None = None) -> AuditTrail:
    return AuditTrail(backend.store, vault_keys(keys), instance="weu-1", region="weu", clock=clock or Clock())


def row(n: int, **extra: Any) -> dict[str, Any]:
    return {"RowKey": f"{999 - n:03d}", "Seq": n, "Event": "e", **extra}


async def test_a_batch_lands_whole_or_not_at_all(backend: Backend) -> None:
    store = backend.store
    partition = partition_key(HOUR, "w")
    await store.append(partition, [row(0), row(1)])
    with pytest.raises(AuditConflict):
        await store.append(partition, [row(2), row(1)])
    newest = await store.newest(partition)
    assert newest is not None
    assert newest["Seq"] == 1
    assert len(await store.query(Query(0, 10**9, limit=100))) == 2


async def test_queries_return_the_newest_hour_first_and_page_on(backend: Backend) -> None:
    store = backend.store
    for hour in (HOUR, HOUR + 1, HOUR + 2):
        await store.append(partition_key(hour, "w"), [row(n) for n in range(3)])
    page = await store.query(Query(HOUR, HOUR + 1, limit=4))
    assert [(r["PartitionKey"], r["Seq"]) for r in page] == [
        (partition_key(HOUR + 1, "w"), 2),
        (partition_key(HOUR + 1, "w"), 1),
        (partition_key(HOUR + 1, "w"), 0),
        (partition_key(HOUR, "w"), 2),
    ]
    last = (page[-1]["PartitionKey"], page[-1]["RowKey"])
    rest = await store.query(Query(HOUR, HOUR + 1, last, limit=3))
    assert [r["Seq"] for r in rest] == [1, 0]
    again = await store.query(Query(HOUR, HOUR + 1, last, limit=1, including=True))
    assert [r["Seq"] for r in again] == [2]


async def test_retention_deletes_whole_hours_before_the_cutoff(backend: Backend) -> None:
    for hour in (HOUR, HOUR + 1):
        await backend.store.append(partition_key(hour, "w"), [row(0), row(1)])
    assert await backend.store.delete_older_than(HOUR + 1) == 2
    assert {r["PartitionKey"] for r in await backend.store.query(Query(0, 10**9, limit=100))} == {
        partition_key(HOUR + 1, "w")
    }


async def written(backend: Backend, count: int = 5, clock: Clock | None = None) -> AuditTrail:
    """`count` blocks of two records each (one flush per block)."""
    trail = trail_on(backend, clock=clock)
    for n in range(count):
        trail.record("tool.call", user="t1:alice", server="notes", tool="echo", outcome="ok", latency_ms=n, n=n)
        trail.record("signin.succeeded", user=f"t1:u{n}")
        assert await trail.flush() == 2
    return trail


async def blocks(backend: Backend) -> list[dict[str, Any]]:
    return await backend.store.query(Query(0, 10**9, limit=1000))


async def test_an_untouched_trail_verifies_intact_and_pages_through_every_record(backend: Backend) -> None:
    trail = await written(backend)
    found = await trail.search(HOUR, HOUR, {"user": "t1:alice"}, after=None, limit=10)
    assert [r["detail"]["n"] for r in found] == [4, 3, 2, 1, 0]
    assert found[0]["tenant"] == "t1"
    seen: list[tuple[str, str, int]] = []
    after = None
    for _ in range(20):
        page = await trail.search(HOUR, HOUR, {}, after=after, limit=3)
        seen += [(r["event"], r["user"], r["detail"].get("n", -1)) for r in page]
        if len(page) < 3:
            break
        after = (page[-1]["PartitionKey"], page[-1]["RowKey"], page[-1]["index"])
    assert len(seen) == len(set(seen)) == 10
    result = await trail.verify(HOUR, HOUR)
    assert (result.intact, result.rows, result.partitions) == (True, 10, 1)


async def test_an_edited_record_is_found(backend: Backend) -> None:
    trail = await written(backend)
    victim = (await blocks(backend))[2]
    records = json.loads(victim["Records"])
    records[0]["outcome"] = "error"
    await backend.change(victim["PartitionKey"], victim["RowKey"], Records=json.dumps(records, separators=(",", ":")))
    result = await trail.verify(HOUR, HOUR)
    assert [f.problem for f in result.findings] == ["was changed after it was written"]


async def test_a_deleted_block_is_found(backend: Backend) -> None:
    trail = await written(backend)
    victim = (await blocks(backend))[2]
    await backend.remove(victim["PartitionKey"], victim["RowKey"])
    assert [f.problem for f in (await trail.verify(HOUR, HOUR)).findings] == ["blocks 2..2 are missing"]


async def test_a_block_rewritten_without_the_vault_key_is_found(backend: Backend) -> None:
    trail = await written(backend)
    victim = (await blocks(backend))[2]
    records = json.loads(victim["Records"])
    records[0]["outcome"] = "error"
    changed = {**victim, "Records": json.dumps(records, separators=(",", ":"))}
    forged = row_mac(b"x" * 32, victim["PartitionKey"], changed)
    await backend.change(victim["PartitionKey"], victim["RowKey"], Records=changed["Records"], Hash=forged)
    problems = [f.problem for f in (await trail.verify(HOUR, HOUR)).findings]
    assert problems == ["was changed after it was written", "does not continue the block before it"]


async def test_a_deleted_earlier_hour_is_found_unless_retention_removed_it(backend: Backend) -> None:
    clock = Clock()
    trail = await written(backend, 3, clock)
    clock.now += 3600
    for n in range(2):
        trail.record("signin.succeeded", user=f"t1:u{n}")
    await trail.flush()
    assert (await trail.verify(HOUR, HOUR + 1)).intact
    await backend.remove(partition_key(HOUR, trail.writer))
    problems = [f.problem for f in (await trail.verify(HOUR, HOUR + 1)).findings]
    assert sorted(problems) == sorted(
        ["blocks 0..2 at the end are missing", f"linked hour {partition_key(HOUR, trail.writer)} is missing"]
    )
    await backend.store.delete_older_than(HOUR + 1)  # retention takes the hour's head with it
    assert (await trail.verify(HOUR, HOUR + 1, retained_from_hour=HOUR + 1)).intact


async def test_deleting_a_writers_newest_blocks_is_found_though_it_never_appends_again(backend: Backend) -> None:
    trail = await written(backend)
    newest = await blocks(backend)
    for victim in newest[:2]:  # blocks 4 and 3: the end of the chain, nothing after them to break
        await backend.remove(victim["PartitionKey"], victim["RowKey"])
    problems = [f.problem for f in (await trail.verify(HOUR, HOUR)).findings]
    assert problems == ["blocks 3..4 at the end are missing"]


async def test_a_deleted_or_forged_head_is_found(backend: Backend) -> None:
    trail = await written(backend, 3)
    partition = partition_key(HOUR, trail.writer)
    head = (await backend.store.heads(HOUR, HOUR))[partition]
    assert head["Seq"] == 2
    await backend.store.put_head(partition, {**head, "Seq": 1})  # hides block 2 unless the MAC is checked
    assert [f.problem for f in (await trail.verify(HOUR, HOUR)).findings] == [
        "its head was changed or signed with an unknown key"
    ]
    await backend.remove_head(partition)
    assert [f.problem for f in (await trail.verify(HOUR, HOUR)).findings] == ["its head is missing"]
