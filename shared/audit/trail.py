"""The audit trail: records appended in hash chains, written off the request path, verifiable.

Records are written in blocks: each flush appends one row per ~100 records (`Records`, a JSON
array, with summary columns to skip blocks a query cannot match). Writing a row per record cost
0.65 ms of CPU per tool call in the Azure SDK's batch encoding; a block costs that once.

Each writer (one process: instance name + a start nonce) appends to its own partition per hour, so
a chain has one author and never forks. Every block carries `Hash = HMAC(key, Prev | content)`
with `Prev` the hash of the block before it; the first block of an hour links to the writer's last
block of its previous hour (`PrevPartition`). The HMAC key is derived from the vault key (`Kid`
names which), so someone who can write the table but not read Key Vault cannot forge a chain.

`verify` detects an edited record (its block's hash), a deleted or inserted block (sequence gap,
broken link), a deleted earlier hour of a writer (missing partition, unless retention removed
it) and a block signed with a key the hub does not hold. The chain alone cannot show that its
newest blocks were deleted, so after every append the writer also stores the partition's head
(newest sequence number and hash, MAC'd) apart from the chain: `verify` reports blocks missing
after the last one left, a whole hour deleted while its head remains, and a missing or forged
head (blocks mark themselves `Headed`, inside their MAC, so the mark cannot be stripped).

Records that could not even be queued (more than `_MAX_PENDING` waiting while storage is down)
are counted in `dropped`; the next flush writes an `audit.records_dropped` event saying how many,
and /health and the operator page show the count.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.audit.blocks import Record, into_blocks, may_match, row_mac
from shared.audit.store import AuditConflict, AuditStore, Entity, Query, hour_of, partition_key, row_key
from shared.background import FlushSoon

log = logging.getLogger(__name__)

KeySource = Callable[[str | None], tuple[str, bytes] | None]  # kid (None: active) -> (kid, key)
FILTERABLE = ("event", "user", "tenant", "server", "tool", "outcome", "region")
_BATCH = 100  # blocks per transaction
_MAX_PENDING = 50_000


@dataclass(slots=True)
class _Head:
    seq: int
    hash: str


@dataclass(slots=True)
class Finding:
    partition: str
    row: str
    problem: str


@dataclass(slots=True)
class Verification:
    partitions: int = 0
    rows: int = 0
    findings: list[Finding] = field(default_factory=list[Finding])

    @property
    def intact(self) -> bool:
        return not self.findings


class AuditTrail:
    def __init__(
        self,
        store: AuditStore,
        keys: KeySource,
        *,
        instance: str,
        region: str,
        clock: Callable[[], float] = time.time,
        flush_seconds: float = 2.0,
    ) -> None:
        self._store = store
        self._keys = keys
        self.writer = f"{instance}.{secrets.token_hex(3)}"
        self._region = region
        self._clock = clock
        self._pending: list[Entity] = []
        self._heads: dict[str, _Head] = {}
        self._last_partition: str | None = None
        self._lock = asyncio.Lock()
        self._soon = FlushSoon(flush_seconds, self.flush)
        self.dropped = 0
        self._dropped_reported = 0

    # ---- writing -----------------------------------------------------------------------------

    def record(self, event: str, **fields: Any) -> None:
        """Queue one record; it is written within `flush_seconds` (never blocks the caller)."""
        if len(self._pending) >= _MAX_PENDING:
            self.dropped += 1
            return
        self._pending.append(self._record(event, fields))
        self._soon.schedule()

    def _record(self, event: str, fields: dict[str, Any]) -> Record:
        record: Record = {"at": float(fields.pop("at", None) or self._clock()), "event": event, "region": self._region}
        for name in ("user", "tenant", "server", "tool", "outcome"):
            value = fields.pop(name, None)
            if value is not None:
                record[name] = str(value)[:512]
        if "tenant" not in record and ":" in record.get("user", ""):
            record["tenant"] = record["user"].split(":", 1)[0]
        latency = fields.pop("latency_ms", None)
        if isinstance(latency, int | float):
            record["latencyMs"] = round(float(latency), 3)
        detail = json.loads(json.dumps(fields, default=str))  # plain JSON now: what is hashed is what is stored
        if len(json.dumps(detail)) > 8_000:
            detail = {"truncated": True}
        record["detail"] = detail
        return record

    async def flush(self) -> int:
        """Write everything queued; returns how many rows were written."""
        async with self._lock:
            if self.dropped > self._dropped_reported:
                lost, self._dropped_reported = self.dropped - self._dropped_reported, self.dropped
                log.error("audit trail: %d record(s) dropped (queue full while storage was failing)", lost)
                self._pending.append(self._record("audit.records_dropped", {"dropped": lost, "total": self.dropped}))
            pending, self._pending = self._pending, []
            by_partition: dict[str, list[Record]] = defaultdict(list)
            for record in pending:
                by_partition[partition_key(int(record["at"] // 3600), self.writer)].append(record)
            written = 0
            for partition in sorted(by_partition, reverse=True):  # oldest hour first: links follow time
                records = by_partition[partition]
                try:
                    await self._append(partition, into_blocks(records))
                except Exception as exc:  # storage down: keep the records for the next flush
                    log.warning("audit trail: %d record(s) not written yet: %s", len(records), type(exc).__name__)
                    self._pending[:0] = records
                    self._soon.schedule()
                    continue
                written += len(records)
            return written

    async def _append(self, partition: str, rows: list[Entity]) -> None:
        head = self._heads.get(partition)
        if head is None:
            head = await self._load_head(partition)
        for start in range(0, len(rows), _BATCH):
            batch = rows[start : start + _BATCH]
            for _ in range(3):
                chained, new_head = self._chain(partition, head, batch)
                try:
                    await self._store.append(partition, chained)
                except AuditConflict:
                    head = await self._load_head(partition)
                    continue
                head = new_head
                break
            else:
                raise AuditConflict(partition)
        self._heads[partition] = head
        self._last_partition = partition
        await self._store_head(partition, head)

    def _head_mac(self, key: bytes, partition: str, seq: int, hash_: str) -> str:
        return hmac.new(key, f"head|{partition}|{seq}|{hash_}".encode(), "sha256").hexdigest()

    async def _store_head(self, partition: str, head: _Head) -> None:
        found = self._keys(None)
        if found is None:
            return
        kid, key = found
        entity = {
            "Seq": head.seq,
            "Hash": head.hash,
            "Kid": kid,
            "Mac": self._head_mac(key, partition, head.seq, head.hash),
        }
        try:
            await self._store.put_head(partition, entity)
        except Exception as exc:  # the blocks are written; the next append stores the head again
            log.warning("audit trail: head of %s not stored yet: %s", partition, type(exc).__name__)

    async def _load_head(self, partition: str) -> _Head:
        newest = await self._store.newest(partition)
        if newest is not None:
            return _Head(int(newest["Seq"]), str(newest["Hash"]))
        previous = self._last_partition
        prev_hash = self._heads[previous].hash if previous in self._heads else ""
        return _Head(-1, prev_hash)

    def _chain(self, partition: str, head: _Head, rows: list[Entity]) -> tuple[list[Entity], _Head]:
        found = self._keys(None)
        if found is None:
            raise RuntimeError("no audit key")
        kid, key = found
        chained: list[Entity] = []
        seq, prev = head.seq, head.hash
        for row in rows:
            seq += 1
            linked = {**row, "RowKey": row_key(seq), "Seq": seq, "Prev": prev, "Kid": kid, "Headed": True}
            if seq == 0 and prev:
                linked["PrevPartition"] = self._last_partition or ""
            linked["Hash"] = prev = row_mac(key, partition, linked)
            chained.append(linked)
        return chained, _Head(seq, prev)

    # ---- reading -----------------------------------------------------------------------------

    async def search(
        self,
        first_hour: int,
        last_hour: int,
        filters: Mapping[str, str],
        *,
        after: tuple[str, str, int] | None,
        limit: int,
        between: tuple[float, float] | None = None,
    ) -> list[Record]:
        """Matching records, newest block first and newest first within a block, each with its
        `PartitionKey`, `RowKey` and `index` (what `after` takes to continue from it)."""
        unknown = set(filters) - set(FILTERABLE)
        if unknown:
            raise ValueError(f"cannot filter on {', '.join(sorted(unknown))}; use {', '.join(FILTERABLE)}")
        found: list[Record] = []
        block_after = (after[0], after[1]) if after else None
        resume = after[2] if after else None
        while len(found) < limit:
            query = Query(first_hour, last_hour, block_after, limit=50, including=resume is not None)
            blocks = await self._store.query(query)
            for block in blocks:
                indexes = range(int(block["Count"]) - 1, -1, -1)
                if resume is not None and (block["PartitionKey"], block["RowKey"]) == block_after:
                    indexes = range(resume - 1, -1, -1)
                if not may_match(block, filters):
                    continue
                records: list[Record] = json.loads(block["Records"])
                for index in indexes:
                    record = records[index]
                    if between is not None and not between[0] <= float(record["at"]) <= between[1]:
                        continue
                    if all(record.get(name) == value for name, value in filters.items()):
                        found.append(
                            {**record, "PartitionKey": block["PartitionKey"], "RowKey": block["RowKey"], "index": index}
                        )
                        if len(found) >= limit:
                            return found
            if len(blocks) < 50:
                return found
            block_after, resume = (blocks[-1]["PartitionKey"], blocks[-1]["RowKey"]), None
        return found

    async def verify(
        self, first_hour: int, last_hour: int, *, retained_from_hour: int | None = None, tenant: str | None = None
    ) -> Verification:
        """Check every chain in the hours given; see the module docstring for what is caught.

        With `tenant`, the chains are still checked whole (a chain's MACs cover every record of
        its blocks, whoever they are about), but `rows` counts only that tenant's records."""
        rows = await self._store.query(Query(first_hour, last_hour, None, limit=10_000_000))
        partitions: dict[str, list[Entity]] = defaultdict(list)
        for row in rows:
            partitions[row["PartitionKey"]].append(row)
        if tenant is None:
            counted = sum(int(r.get("Count") or 0) for r in rows)
        else:
            counted = sum(
                sum(1 for record in json.loads(str(r.get("Records") or "[]")) if record.get("tenant") == tenant)
                for r in rows
                if may_match(r, {"tenant": tenant})
            )
        result = Verification(partitions=len(partitions), rows=counted)
        heads = await self._store.heads(first_hour, last_hour)
        for partition, head in heads.items():
            result.findings.extend(self._verify_head(partition, head, partitions.get(partition, [])))
        for partition, found in partitions.items():
            newest = max(found, key=lambda r: int(r["Seq"]))
            if newest.get("Headed") and partition not in heads:
                result.findings.append(Finding(partition, newest["RowKey"], "its head is missing"))
            result.findings.extend(self._verify_partition(partition, sorted(found, key=lambda r: int(r["Seq"]))))
            first = min(found, key=lambda r: int(r["Seq"]))
            linked = str(first.get("PrevPartition") or "")
            if linked and linked not in partitions:
                older = hour_of(linked)
                pruned = retained_from_hour is not None and older < retained_from_hour
                if first_hour <= older and not pruned:
                    result.findings.append(Finding(partition, first["RowKey"], f"linked hour {linked} is missing"))
            elif linked and partitions[linked]:
                last = max(partitions[linked], key=lambda r: int(r["Seq"]))
                if last["Hash"] != first["Prev"]:
                    result.findings.append(Finding(partition, first["RowKey"], "does not continue the previous hour"))
        return result

    def _verify_head(self, partition: str, head: Entity, rows: list[Entity]) -> list[Finding]:
        seq, found = int(head.get("Seq", -1)), self._keys(str(head.get("Kid") or ""))
        if found is None or not hmac.compare_digest(
            self._head_mac(found[1], partition, seq, str(head.get("Hash", ""))), str(head.get("Mac", ""))
        ):
            return [Finding(partition, "head", "its head was changed or signed with an unknown key")]
        newest = max((int(r["Seq"]) for r in rows), default=-1)
        if newest < seq:
            first = newest + 1
            return [Finding(partition, row_key(seq), f"blocks {first}..{seq} at the end are missing")]
        return []

    def _verify_partition(self, partition: str, rows: Iterable[Entity]) -> list[Finding]:
        findings: list[Finding] = []
        expected_seq, prev = 0, None
        for row in rows:
            seq = int(row["Seq"])
            if seq != expected_seq:
                findings.append(Finding(partition, row["RowKey"], f"blocks {expected_seq}..{seq - 1} are missing"))
            elif prev is not None and row["Prev"] != prev:
                findings.append(Finding(partition, row["RowKey"], "does not continue the block before it"))
            if row["RowKey"] != row_key(seq):
                findings.append(Finding(partition, row["RowKey"], "was moved"))
            found = self._keys(str(row.get("Kid") or ""))
            if found is None:
                findings.append(Finding(partition, row["RowKey"], f"signed with unknown key {row.get('Kid')!r}"))
            elif not hmac.compare_digest(row_mac(found[1], partition, row), str(row.get("Hash", ""))):
                findings.append(Finding(partition, row["RowKey"], "was changed after it was written"))
            expected_seq, prev = seq + 1, row["Hash"]
        return findings

    async def delete_older_than(self, hour: int) -> int:
        return await self._store.delete_older_than(hour)
