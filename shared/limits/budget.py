"""The shared budget of each rate-limit window, handed out to instances in chunks.

A row per (limit subject, window) counts the units every instance has taken. An instance takes a
chunk with one conditional write (ETag) and spends it locally, so most calls cost no round trip;
because a grant never exceeds what is left, all instances together never admit more than the limit.
"""

from __future__ import annotations

# The Azure SDK types its **kwargs loosely; strict mode would flag every call for it.
# pyright: reportUnknownMemberType=false, reportUnknownArgumentType=false, reportUnknownVariableType=false
import asyncio
import hashlib
from dataclasses import dataclass
from typing import Protocol

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from shared.tables import TableBacked

_ATTEMPTS = 16


@dataclass(frozen=True, slots=True)
class Grant:
    granted: int  # units now this instance's to spend (0: the window is spent)
    left: int  # units still in the shared budget after this grant


class BudgetStore(Protocol):
    async def take(self, key: str, window: int, want: int, cap: int, *, expires: float) -> Grant:
        """Take up to `want` of the `cap` units of `key` in `window` (a row that may be purged after `expires`)."""
        ...

    async def purge(self, now: float) -> int:
        """Delete windows that ended before `now`; returns how many."""
        ...


class MemoryBudgetStore:
    def __init__(self) -> None:
        self._taken: dict[tuple[str, int], tuple[int, float]] = {}
        self._lock = asyncio.Lock()

    async def take(self, key: str, window: int, want: int, cap: int, *, expires: float) -> Grant:
        async with self._lock:
            taken = self._taken.get((key, window), (0, expires))[0]
            granted = max(0, min(want, cap - taken))
            self._taken[(key, window)] = (taken + granted, expires)
            return Grant(granted, cap - taken - granted)

    async def purge(self, now: float) -> int:
        async with self._lock:
            old = [k for k, (_, expires) in self._taken.items() if expires < now]
            for k in old:
                del self._taken[k]
            return len(old)


class TableBudgetStore(TableBacked):
    """Rows keyed by a hash of the subject (user IDs may hold characters Table keys refuse)."""

    async def take(self, key: str, window: int, want: int, cap: int, *, expires: float) -> Grant:
        table = await self._table()
        partition, row = _partition(key), str(window)
        for _ in range(_ATTEMPTS):
            try:
                current = await table.get_entity(partition, row)
            except ResourceNotFoundError:
                granted = min(want, cap)
                entity = {"PartitionKey": partition, "RowKey": row, "Taken": granted, "Expires": expires, "Key": key}
                try:
                    await table.create_entity(entity)
                except ResourceExistsError:
                    continue  # another instance opened the window first: read what it took
                return Grant(granted, cap - granted)
            taken = int(current["Taken"])
            granted = max(0, min(want, cap - taken))
            if granted == 0:
                return Grant(0, 0)
            try:
                await table.update_entity(
                    {"PartitionKey": partition, "RowKey": row, "Taken": taken + granted},
                    mode=UpdateMode.MERGE,
                    etag=current.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
            except ResourceModifiedError:
                continue  # lost the race to another instance: read its count and try again
            return Grant(granted, cap - taken - granted)
        raise TimeoutError(f"budget {key!r} stayed contended for {_ATTEMPTS} attempts")

    async def purge(self, now: float) -> int:
        return await self._delete_where("Expires lt @now", {"now": now})


def _partition(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:32]
