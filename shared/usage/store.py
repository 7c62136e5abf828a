"""Where usage aggregates live: one row per (window, dimension, key, writer).

PartitionKey = f"{granularity}-{window start:010d}" (ascending, so a time range is a key range),
RowKey = f"{dimension}|{quoted key}|{writer}". Each writer owns its rows and replaces them with its
running totals, so writes never contend and a repeated write changes nothing.
"""

from __future__ import annotations

# The Azure SDK types its **kwargs loosely; strict mode would flag every call for it.
# pyright: reportUnknownMemberType=false, reportUnknownArgumentType=false, reportUnknownVariableType=false
import asyncio
from typing import Any, Protocol

from azure.data.tables import UpdateMode

from shared.tables import TableBacked

Row = dict[str, Any]


def partition(granularity: str, start: int) -> str:
    return f"{granularity}-{start:010d}"


class UsageStore(Protocol):
    async def upsert(self, rows: list[Row]) -> None:
        """Write rows (each with PartitionKey and RowKey), replacing what a row held before."""
        ...

    async def read(self, granularity: str, start: int, end: int) -> list[Row]:
        """Rows of windows starting in [start, end)."""
        ...

    async def delete_before(self, start: int) -> int: ...


class MemoryUsageStore:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Row] = {}
        self._lock = asyncio.Lock()

    async def upsert(self, rows: list[Row]) -> None:
        async with self._lock:
            for row in rows:
                self.rows[(row["PartitionKey"], row["RowKey"])] = dict(row)

    async def read(self, granularity: str, start: int, end: int) -> list[Row]:
        low, high = partition(granularity, start), partition(granularity, end)
        return [dict(r) for k, r in sorted(self.rows.items()) if low <= k[0] < high]

    async def delete_before(self, start: int) -> int:
        old = [k for k in self.rows if int(k[0].split("-", 1)[1]) < start]
        for k in old:
            del self.rows[k]
        return len(old)


class TableUsageStore(TableBacked):
    async def upsert(self, rows: list[Row]) -> None:
        table = await self._table()
        by_partition: dict[str, list[Row]] = {}
        for row in rows:
            by_partition.setdefault(row["PartitionKey"], []).append(row)
        for group in by_partition.values():
            for start in range(0, len(group), 100):  # one transaction per 100 rows of a partition
                await table.submit_transaction(
                    [("upsert", r, {"mode": UpdateMode.REPLACE}) for r in group[start : start + 100]]
                )

    async def read(self, granularity: str, start: int, end: int) -> list[Row]:
        table = await self._table()
        rows = table.query_entities(
            "PartitionKey ge @low and PartitionKey lt @high",
            parameters={"low": partition(granularity, start), "high": partition(granularity, end)},
        )
        return [dict(row) async for row in rows]

    async def delete_before(self, start: int) -> int:
        deleted = 0
        for granularity in ("m5", "h1"):
            low, high = partition(granularity, 0), partition(granularity, start)
            where = "PartitionKey ge @low and PartitionKey lt @high"
            deleted += await self._delete_where(where, {"low": low, "high": high})
        return deleted
