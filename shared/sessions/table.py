"""SessionStore on Azure Table Storage (Azurite locally; Storage or Cosmos DB for Table on Azure).

One entity per session: PartitionKey = session id (spreads load across partitions), RowKey "s".
Each upstream session is its own property (`U_<hex name>`), so MERGE updates from different
instances touch disjoint properties and never lose each other's writes.
"""

from __future__ import annotations

# The Azure SDK types its **kwargs loosely; strict mode would flag every call for it.
# pyright: reportUnknownMemberType=false, reportUnknownArgumentType=false
import json
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from shared.sessions.model import SessionRecord, UpstreamSession, well_formed_session_id
from shared.tables import TableBacked, delete_unchanged

_ROW = "s"
_UP = "U_"


def _upstream_property(server: str) -> str:
    return _UP + server.encode().hex()


def _to_entity(record: SessionRecord) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "PartitionKey": record.session_id,
        "RowKey": _ROW,
        "Route": record.route,
        "Owner": record.owner,
        "ProtocolVersion": record.protocol_version,
        "ClientCapabilities": json.dumps(record.client_capabilities),
        "ClientInfo": json.dumps(record.client_info),
        "CreatedAt": record.created_at,
        "LastSeen": record.last_seen,
    }
    for server, upstream in record.upstreams.items():
        entity[_upstream_property(server)] = _upstream_value(upstream)
    return entity


def _upstream_value(upstream: UpstreamSession) -> str:
    return json.dumps({"id": upstream.session_id, "v": upstream.protocol_version})


def _from_entity(entity: dict[str, Any]) -> SessionRecord:
    upstreams: dict[str, UpstreamSession] = {}
    for key, value in entity.items():
        if key.startswith(_UP):
            decoded = json.loads(value)
            upstreams[bytes.fromhex(key[len(_UP) :]).decode()] = UpstreamSession(decoded["id"], decoded["v"])
    return SessionRecord(
        session_id=entity["PartitionKey"],
        route=entity["Route"],
        owner=entity["Owner"],
        protocol_version=entity["ProtocolVersion"],
        client_capabilities=json.loads(entity["ClientCapabilities"]),
        client_info=json.loads(entity["ClientInfo"]),
        upstreams=upstreams,
        created_at=float(entity["CreatedAt"]),
        last_seen=float(entity["LastSeen"]),
    )


class TableSessionStore(TableBacked):
    async def create(self, record: SessionRecord) -> None:
        await self._table()
        try:
            await self._deadline.create_entity(_to_entity(record))
        except ResourceExistsError:
            raise ValueError("session id already exists") from None

    async def get(self, session_id: str, *, now: float, ttl_seconds: float) -> SessionRecord | None:
        if not well_formed_session_id(session_id):
            return None  # never issued; and not a key to send to storage
        await self._table()
        try:
            entity = await self._deadline.get_entity(session_id, _ROW)
        except ResourceNotFoundError:
            return None
        record = _from_entity(dict(entity))
        return None if record.expired(now, ttl_seconds) else record

    async def _merge(self, session_id: str, properties: dict[str, Any]) -> bool:
        if not well_formed_session_id(session_id):
            return False
        await self._table()
        entity = {"PartitionKey": session_id, "RowKey": _ROW, **properties}
        try:
            # match_condition defaults to "if exists" for update_entity: a deleted session stays deleted.
            await self._deadline.update_entity(entity, mode=UpdateMode.MERGE)
        except ResourceNotFoundError:
            return False
        return True

    async def put_upstream(self, session_id: str, server: str, upstream: UpstreamSession) -> bool:
        return await self._merge(session_id, {_upstream_property(server): _upstream_value(upstream)})

    async def touch(self, session_id: str, last_seen: float) -> bool:
        return await self._merge(session_id, {"LastSeen": last_seen})

    async def delete(self, session_id: str) -> bool:
        if not well_formed_session_id(session_id):
            return False
        await self._table()
        try:
            await self._deadline.get_entity(session_id, _ROW, select=["PartitionKey"])
        except ResourceNotFoundError:
            return False
        await self._deadline.delete_entity(session_id, _ROW)
        return True

    async def discard(self, session_id: str) -> None:
        if not well_formed_session_id(session_id):
            return
        await self._table()
        await self._deadline.delete_entity(session_id, _ROW)  # a missing entity is no error here

    async def count_live(self, *, now: float, ttl_seconds: float, tenant: str | None = None) -> int:
        await self._table()
        where, parameters = "LastSeen ge @cutoff", dict[str, Any](cutoff=now - ttl_seconds)
        if tenant is not None:  # owners "<tid>:<oid>" of the tenant: the range [<tid>:, <tid>;)
            where += " and Owner ge @low and Owner lt @high"
            parameters |= {"low": f"{tenant}:", "high": f"{tenant};"}
        entities = self._deadline.query_entities(where, parameters=parameters, select=["PartitionKey"])
        return sum([1 async for _ in entities])

    async def purge_expired(self, *, now: float, ttl_seconds: float) -> int:
        await self._table()
        cutoff = now - ttl_seconds
        count = 0
        entities = self._deadline.query_entities(
            "LastSeen lt @cutoff", parameters={"cutoff": cutoff}, select=["PartitionKey", "RowKey"]
        )
        async for entity in entities:
            if await delete_unchanged(self._deadline, entity):
                count += 1
        return count
