"""Short- and long-lived authorization state the OAuth facade keeps: registered clients,
pending sign-ins, authorization codes, refresh tokens, signing keys.

Every instance in every region must see the same state (the browser's callback may land on
another instance than the one that started the sign-in), so it lives in Table Storage:
PartitionKey = kind, RowKey = the key (hashed when it is not a safe row key), the value as JSON,
and an expiry. `take` is get-and-delete with an ETag condition: of two instances redeeming the
same authorization code, exactly one wins.
"""

from __future__ import annotations

# The Azure SDK types its **kwargs loosely; strict mode would flag every call for it.
# pyright: reportUnknownMemberType=false, reportUnknownArgumentType=false
import hashlib
import json
import re
from typing import Any, Protocol

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from shared.tables import TableBacked

Value = dict[str, Any]
_SAFE_ROW = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")


class GrantStore(Protocol):
    async def add(self, kind: str, key: str, value: Value, *, expires_at: float | None, now: float) -> bool:
        """Create; False when the key exists already and has not expired."""
        ...

    async def put(self, kind: str, key: str, value: Value, *, expires_at: float | None) -> None:
        """Create or replace."""
        ...

    async def get(self, kind: str, key: str, *, now: float) -> Value | None: ...

    async def take(self, kind: str, key: str, *, now: float) -> Value | None:
        """Get and delete; when several callers race for one key, one of them gets it."""
        ...

    async def delete(self, kind: str, key: str) -> bool: ...

    async def items(self, kind: str, *, now: float) -> list[tuple[str, Value]]:
        """Every live (key, value) of a kind; for small kinds only (signing keys)."""
        ...

    async def purge(self, now: float) -> int:
        """Delete every grant that expired before `now` (the retention timer); returns how many."""
        ...


class MemoryGrantStore:
    def __init__(self) -> None:
        self._data: dict[tuple[str, str], tuple[Value, float | None]] = {}

    def _live(self, kind: str, key: str, now: float | None) -> Value | None:
        found = self._data.get((kind, key))
        if found is None:
            return None
        value, expires_at = found
        if now is not None and expires_at is not None and expires_at <= now:
            return None
        return value

    async def add(self, kind: str, key: str, value: Value, *, expires_at: float | None, now: float) -> bool:
        if self._live(kind, key, now) is not None:
            return False
        self._data[(kind, key)] = (json.loads(json.dumps(value)), expires_at)
        return True

    async def put(self, kind: str, key: str, value: Value, *, expires_at: float | None) -> None:
        self._data[(kind, key)] = (json.loads(json.dumps(value)), expires_at)

    async def get(self, kind: str, key: str, *, now: float) -> Value | None:
        value = self._live(kind, key, now)
        return json.loads(json.dumps(value)) if value is not None else None

    async def take(self, kind: str, key: str, *, now: float) -> Value | None:
        value = self._live(kind, key, now)
        self._data.pop((kind, key), None)
        return value

    async def delete(self, kind: str, key: str) -> bool:
        return self._data.pop((kind, key), None) is not None

    async def items(self, kind: str, *, now: float) -> list[tuple[str, Value]]:
        return [
            (key, json.loads(json.dumps(value)))
            for (k, key), (value, expires_at) in self._data.items()
            if k == kind and (expires_at is None or expires_at > now)
        ]

    async def purge(self, now: float) -> int:
        gone = [k for k, (_, expires_at) in self._data.items() if expires_at is not None and expires_at <= now]
        for k in gone:
            del self._data[k]
        return len(gone)


def _row(key: str) -> str:
    return key if _SAFE_ROW.match(key) else "h" + hashlib.sha256(key.encode()).hexdigest()


class TableGrantStore(TableBacked):
    @staticmethod
    def _entity(kind: str, key: str, value: Value, expires_at: float | None) -> dict[str, Any]:
        return {
            "PartitionKey": kind,
            "RowKey": _row(key),
            "K": key,
            "V": json.dumps(value),
            "ExpiresAt": float(expires_at) if expires_at is not None else 0.0,
        }

    @staticmethod
    def _live(entity: Any, now: float) -> Value | None:
        if entity.get("Taken"):
            return None
        expires_at = float(entity.get("ExpiresAt") or 0.0)
        if expires_at and expires_at <= now:
            return None
        return json.loads(entity["V"])

    async def add(self, kind: str, key: str, value: Value, *, expires_at: float | None, now: float) -> bool:
        table = await self._table()
        entity = self._entity(kind, key, value, expires_at)
        try:
            await table.create_entity(entity)
            return True
        except ResourceExistsError:
            pass
        try:
            existing = await table.get_entity(kind, _row(key))
            if self._live(existing, now) is not None:
                return False
            # Expired: replace it, unless another instance did so in the meantime.
            await table.update_entity(
                entity,
                mode=UpdateMode.REPLACE,
                etag=existing.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return False
        return True

    async def put(self, kind: str, key: str, value: Value, *, expires_at: float | None) -> None:
        table = await self._table()
        await table.upsert_entity(self._entity(kind, key, value, expires_at), mode=UpdateMode.REPLACE)

    async def get(self, kind: str, key: str, *, now: float) -> Value | None:
        table = await self._table()
        try:
            entity = await table.get_entity(kind, _row(key))
        except ResourceNotFoundError:
            return None
        return self._live(entity, now)

    async def take(self, kind: str, key: str, *, now: float) -> Value | None:
        table = await self._table()
        try:
            entity = await table.get_entity(kind, _row(key))
            if entity.get("Taken"):
                return None
            # The service does not report whether a delete found anything, so the race is decided
            # by a conditional write: only one caller's If-Match succeeds. The winner then deletes.
            await table.update_entity(
                {"PartitionKey": kind, "RowKey": _row(key), "Taken": True},
                mode=UpdateMode.MERGE,
                etag=entity.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceNotFoundError, ResourceModifiedError):
            return None
        await table.delete_entity(kind, _row(key))
        return self._live(entity, now)

    async def delete(self, kind: str, key: str) -> bool:
        table = await self._table()
        try:
            await table.get_entity(kind, _row(key), select=["PartitionKey"])
        except ResourceNotFoundError:
            return False
        await table.delete_entity(kind, _row(key))
        return True

    async def items(self, kind: str, *, now: float) -> list[tuple[str, Value]]:
        table = await self._table()
        found: list[tuple[str, Value]] = []
        async for entity in table.query_entities("PartitionKey eq @kind", parameters={"kind": kind}):
            value = self._live(entity, now)
            if value is not None:
                found.append((str(entity["K"]), value))
        return found

    async def purge(self, now: float) -> int:
        return await self._delete_where("ExpiresAt gt 0.0 and ExpiresAt le @now", {"now": float(now)})
