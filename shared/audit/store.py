"""Where audit records live: rows in partitions of one hour and one writer, newest first.

Keys are inverted so a plain (ascending) Table scan returns the newest hour first:
PartitionKey = f"{INVERTED_HOURS - hour:010d}-{writer}", RowKey = f"{INVERTED_SEQ - seq:012d}".
Each partition's head (its newest block's sequence number and hash, MAC'd) is kept apart, in the
partition HEADS with the chain's partition as RowKey: deleting a chain's newest blocks leaves the
head pointing past them.
A writer (one process) is the only one appending to its partitions, and appends a batch as one
entity-group transaction of inserts: a batch lands whole or not at all, and never overwrites.
"""

from __future__ import annotations

# The Azure SDK types its **kwargs loosely; strict mode would flag every call for it.
# pyright: reportUnknownMemberType=false, reportUnknownArgumentType=false, reportUnknownVariableType=false
import asyncio
from dataclasses import dataclass
from typing import Any, Protocol

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableTransactionError, UpdateMode

from shared.tables import TableBacked

INVERTED_HOURS = 9_999_999_999
INVERTED_SEQ = 999_999_999_999
HEADS = "~heads"  # sorts after every hour partition: no hour query or hour retention touches it

Entity = dict[str, Any]


class AuditConflict(Exception):
    """A row of the batch already exists: another writer used this partition."""


def partition_key(hour: int, writer: str) -> str:
    return f"{INVERTED_HOURS - hour:010d}-{writer}"


def hour_of(partition: str) -> int:
    return INVERTED_HOURS - int(partition.split("-", 1)[0])


def row_key(seq: int) -> str:
    return f"{INVERTED_SEQ - seq:012d}"


@dataclass(frozen=True, slots=True)
class Query:
    """Rows of hours `first`..`last` (inclusive), after a row already seen, at most `limit`."""

    first_hour: int
    last_hour: int
    after: tuple[str, str] | None = None  # (PartitionKey, RowKey) of the last row already seen
    limit: int = 100
    including: bool = False  # start at `after` itself (a row only partly read) instead of after it

    @property
    def low(self) -> str:
        return f"{INVERTED_HOURS - self.last_hour:010d}"

    @property
    def high(self) -> str:
        return f"{INVERTED_HOURS - self.first_hour:010d}~"  # '~' sorts after every writer suffix


class AuditStore(Protocol):
    async def append(self, partition: str, rows: list[Entity]) -> None:
        """Insert all rows (at most 100) or none; AuditConflict if any already exists."""
        ...

    async def newest(self, partition: str) -> Entity | None: ...

    async def query(self, query: Query) -> list[Entity]:
        """Rows in key order (newest hour first), at most `query.limit`."""
        ...

    async def delete_older_than(self, hour: int) -> int:
        """Delete every partition of an hour before `hour` (and their heads); returns the rows deleted."""
        ...

    async def put_head(self, partition: str, head: Entity) -> None:
        """Store (replace) the head of `partition`'s chain."""
        ...

    async def heads(self, first_hour: int, last_hour: int) -> dict[str, Entity]:
        """The heads of every partition of hours `first_hour`..`last_hour`, by partition."""
        ...


class MemoryAuditStore:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Entity] = {}
        self._lock = asyncio.Lock()

    async def append(self, partition: str, rows: list[Entity]) -> None:
        async with self._lock:
            keys = [(partition, row["RowKey"]) for row in rows]
            if any(key in self.rows for key in keys):
                raise AuditConflict(partition)
            for key, row in zip(keys, rows, strict=True):
                self.rows[key] = {**row, "PartitionKey": partition}

    async def newest(self, partition: str) -> Entity | None:
        mine = sorted(key for key in self.rows if key[0] == partition)
        return dict(self.rows[mine[0]]) if mine else None

    async def query(self, query: Query) -> list[Entity]:
        found: list[Entity] = []
        for key in sorted(self.rows):
            if not (query.low <= key[0] < query.high):
                continue
            if query.after is not None and (key < query.after or (key == query.after and not query.including)):
                continue
            found.append(dict(self.rows[key]))
            if len(found) >= query.limit:
                break
        return found

    async def delete_older_than(self, hour: int) -> int:
        cutoff = f"{INVERTED_HOURS - hour:010d}~"
        old = [key for key in self.rows if cutoff < key[0] < HEADS]
        for key in old:
            del self.rows[key]
        for key in [key for key in self.rows if key[0] == HEADS and key[1] > cutoff]:
            del self.rows[key]
        return len(old)

    async def put_head(self, partition: str, head: Entity) -> None:
        async with self._lock:
            self.rows[(HEADS, partition)] = {**head, "PartitionKey": HEADS, "RowKey": partition}

    async def heads(self, first_hour: int, last_hour: int) -> dict[str, Entity]:
        query = Query(first_hour, last_hour)
        return {k[1]: dict(v) for k, v in self.rows.items() if k[0] == HEADS and query.low <= k[1] < query.high}


class TableAuditStore(TableBacked):
    async def append(self, partition: str, rows: list[Entity]) -> None:
        table = await self._table()
        try:
            await table.submit_transaction([("create", {**row, "PartitionKey": partition}) for row in rows])
        except (TableTransactionError, ResourceExistsError) as exc:
            if "EntityAlreadyExists" in str(exc) or isinstance(exc, ResourceExistsError):
                raise AuditConflict(partition) from None
            raise

    async def newest(self, partition: str) -> Entity | None:
        table = await self._table()
        async for row in table.query_entities("PartitionKey eq @p", parameters={"p": partition}, results_per_page=1):
            return dict(row)  # the first page holds the newest block (keys are inverted)
        return None

    async def query(self, query: Query) -> list[Entity]:
        table = await self._table()
        clauses = ["PartitionKey ge @low", "PartitionKey lt @high"]
        parameters: dict[str, Any] = {"low": query.low, "high": query.high}
        if query.after is not None:
            compare = "ge" if query.including else "gt"
            clauses.append(f"( PartitionKey gt @apk or ( PartitionKey eq @apk and RowKey {compare} @ark ) )")
            parameters.update(apk=query.after[0], ark=query.after[1])
        found: list[Entity] = []
        async for row in table.query_entities(
            " and ".join(clauses), parameters=parameters, results_per_page=min(query.limit, 1000)
        ):
            found.append(dict(row))
            if len(found) >= query.limit:
                break
        return found

    async def delete_older_than(self, hour: int) -> int:
        cutoff = f"{INVERTED_HOURS - hour:010d}~"
        deleted = await self._delete_where(
            "PartitionKey gt @cutoff and PartitionKey lt @heads", {"cutoff": cutoff, "heads": HEADS}
        )
        await self._delete_where("PartitionKey eq @heads and RowKey gt @cutoff", {"cutoff": cutoff, "heads": HEADS})
        return deleted

    async def put_head(self, partition: str, head: Entity) -> None:
        table = await self._table()
        await table.upsert_entity({**head, "PartitionKey": HEADS, "RowKey": partition}, mode=UpdateMode.REPLACE)

    async def heads(self, first_hour: int, last_hour: int) -> dict[str, Entity]:
        table = await self._table()
        query = Query(first_hour, last_hour)
        found: dict[str, Entity] = {}
        async for row in table.query_entities(
            "PartitionKey eq @heads and RowKey ge @low and RowKey lt @high",
            parameters={"heads": HEADS, "low": query.low, "high": query.high},
        ):
            found[str(row["RowKey"])] = dict(row)
        return found
