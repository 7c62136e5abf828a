"""The audit trail's sources and writing: security events and calls become records, written off
the request path within the flush interval, kept through a storage outage, secrets left out."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator

import anyio
import pytest

from shared.audit.blocks import Record
from shared.audit.events import audit
from shared.audit.redact import REDACTED, redact
from shared.audit.sources import CallsToTrail, TrailHandler, vault_keys
from shared.audit.store import Entity, MemoryAuditStore, Query
from shared.audit.trail import AuditTrail
from shared.call_record import CallRecord
from shared.sealing import Sealer

pytestmark = pytest.mark.anyio
KEYS = vault_keys(Sealer([b"k" * 32]))


class FlakyStore(MemoryAuditStore):
    def __init__(self) -> None:
        super().__init__()
        self.down = True

    async def append(self, partition: str, rows: list[Entity]) -> None:
        if self.down:
            raise ConnectionError("storage unreachable")
        await super().append(partition, rows)


async def everything(store: MemoryAuditStore) -> list[Record]:
    """Every record in the store's blocks, oldest first."""
    blocks = sorted(await store.query(Query(0, 10**9, limit=1000)), key=lambda b: (b["PartitionKey"], -b["Seq"]))
    return [record for block in reversed(blocks) for record in json.loads(block["Records"])]


@pytest.fixture
def trail() -> Iterator[AuditTrail]:
    trail = AuditTrail(MemoryAuditStore(), KEYS, instance="i", region="weu", flush_seconds=0.05)
    handler = TrailHandler(trail)
    logging.getLogger("mcphub.audit").addHandler(handler)
    yield trail
    logging.getLogger("mcphub.audit").removeHandler(handler)


async def test_security_events_logged_with_audit_reach_the_trail_without_another_call(trail: AuditTrail) -> None:
    audit("signin.succeeded", user="t1:alice", client_id="cursor")
    store = trail._store
    assert isinstance(store, MemoryAuditStore)
    rows: list[Record] = []
    with anyio.fail_after(5):
        for _ in range(10_000):
            rows = await everything(store)
            if rows:
                break
            await anyio.sleep(0.01)
    [row] = rows
    assert (row["event"], row["user"], row["tenant"], row["region"]) == ("signin.succeeded", "t1:alice", "t1", "weu")
    assert row["detail"] == {"client_id": "cursor"}


async def test_records_survive_a_storage_outage_and_are_written_when_it_ends() -> None:
    store = FlakyStore()
    trail = AuditTrail(store, KEYS, instance="i", region="weu", flush_seconds=60)
    trail.record("credential.connected", user="t1:alice", server="github")
    assert await trail.flush() == 0
    store.down = False
    assert await trail.flush() == 1
    assert (await trail.verify(0, 10**9)).intact


def call(**changes: object) -> CallRecord:
    fields: dict[str, object] = {
        "at": time.time(),
        "user": "t1:alice",
        "tenant": "t1",
        "server": "github",
        "method": "tools/call",
        "tool": "search",
        "outcome": "ok",
        "seconds": 0.25,
        "region": "weu",
        "session": "secret-session-id",
    }
    fields.update(changes)
    return CallRecord(**fields)  # type: ignore[arg-type]  # fields checked by the dataclass


async def test_a_call_is_recorded_with_who_what_outcome_and_latency_but_not_its_session_id() -> None:
    store = MemoryAuditStore()
    trail = AuditTrail(store, KEYS, instance="i", region="weu")
    CallsToTrail(trail)(call())
    await trail.flush()
    [row] = await everything(store)
    assert (row["event"], row["server"], row["tool"], row["outcome"], row["latencyMs"]) == (
        "tool.call",
        "github",
        "search",
        "ok",
        250.0,
    )
    assert "secret-session-id" not in json.dumps(row)
    assert "arguments" not in row["detail"]


def test_captured_arguments_keep_their_shape_but_lose_secrets() -> None:
    arguments = {
        "query": "is:open label:bug",
        "api_key": "abc",
        "headers": {"Authorization": "Bearer x"},
        "note": "use ghp_1234567890abcdefghij and eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln please",
        "long": "x" * 500,
    }
    cleaned = redact(arguments)
    assert cleaned["query"] == "is:open label:bug"
    assert cleaned["api_key"] == REDACTED
    assert cleaned["headers"] == {"Authorization": REDACTED}
    assert "ghp_" not in cleaned["note"]
    assert "eyJ" not in cleaned["note"]
    assert len(cleaned["long"]) <= 201


async def test_many_records_in_one_flush_are_split_into_blocks_and_each_stays_findable() -> None:
    store = MemoryAuditStore()
    trail = AuditTrail(store, KEYS, instance="i", region="weu", clock=lambda: 1_764_000_000.0)
    for n in range(500):
        trail.record("tool.call", user=f"t1:u{n % 10}", server="notes", tool="echo", outcome="ok", n=n, pad="x" * 200)
    assert await trail.flush() == 500
    assert len(store.rows) >= 5  # 500 records of ~300 characters: five blocks under the size cap
    found = await trail.search(490_000, 500_000, {"user": "t1:u3"}, after=None, limit=100)
    assert sorted(r["detail"]["n"] for r in found) == list(range(3, 500, 10))
    assert (await trail.verify(490_000, 500_000)).rows == 500


async def test_records_dropped_while_the_queue_was_full_are_reported_by_an_event() -> None:
    store = FlakyStore()
    trail = AuditTrail(store, KEYS, instance="i", region="weu", flush_seconds=3600)
    for n in range(50_003):  # the queue holds 50,000: three are dropped
        trail.record("tool.call", user="t1:alice", n=n)
    assert trail.dropped == 3
    store.down = False
    await trail.flush()
    reported = [r for r in await everything(store) if r["event"] == "audit.records_dropped"]
    assert [r["detail"] for r in reported] == [{"dropped": 3, "total": 3}]
    await trail.flush()  # reported once, not again
    assert len([r for r in await everything(store) if r["event"] == "audit.records_dropped"]) == 1
