"""One evaluator per deployment: a lease row in Table Storage, taken and renewed with ETags.

Every region runs the health timer; only the instance holding the lease acts. A holder that
stops renewing loses it after `ttl` seconds, and the next timer anywhere takes it over. Because
every write is conditional on the row's ETag, two instances can never both believe they hold it.
"""

from __future__ import annotations

# The Azure SDK types its **kwargs loosely; strict mode would flag every call for it.
# pyright: reportUnknownMemberType=false, reportUnknownArgumentType=false
from typing import Protocol

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from shared.tables import TableBacked


class Lease(Protocol):
    async def acquire(self, name: str, owner: str, *, ttl: float, now: float) -> bool:
        """Take or renew the lease; True when `owner` holds it until now + ttl."""
        ...

    async def release(self, name: str, owner: str) -> None:
        """Give it up early (only if `owner` holds it)."""
        ...


class MemoryLease:
    def __init__(self) -> None:
        self._held: dict[str, tuple[str, float]] = {}

    async def acquire(self, name: str, owner: str, *, ttl: float, now: float) -> bool:
        holder = self._held.get(name)
        if holder is not None and holder[0] != owner and holder[1] > now:
            return False
        self._held[name] = (owner, now + ttl)
        return True

    async def release(self, name: str, owner: str) -> None:
        if self._held.get(name, ("", 0.0))[0] == owner:
            del self._held[name]


class TableLease(TableBacked):
    async def acquire(self, name: str, owner: str, *, ttl: float, now: float) -> bool:
        table = await self._table()
        entity = {"PartitionKey": "lease", "RowKey": name, "Owner": owner, "ExpiresAt": now + ttl}
        try:
            current = await table.get_entity("lease", name)
        except ResourceNotFoundError:
            try:
                await table.create_entity(entity)
                return True
            except ResourceExistsError:
                return False  # another instance created it first
        if current["Owner"] != owner and float(current["ExpiresAt"]) > now:
            return False
        try:
            await table.update_entity(
                entity,
                mode=UpdateMode.REPLACE,
                etag=current.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return False
        return True

    async def release(self, name: str, owner: str) -> None:
        table = await self._table()
        try:
            current = await table.get_entity("lease", name)
            if current["Owner"] == owner:
                await table.delete_entity(
                    "lease", name, etag=current.metadata["etag"], match_condition=MatchConditions.IfNotModified
                )
        except (ResourceNotFoundError, ResourceModifiedError):
            return
