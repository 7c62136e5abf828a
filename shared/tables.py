"""What every Table Storage-backed store here shares: one async client, the table created on first use."""

from __future__ import annotations

# The Azure SDK types its **kwargs loosely; strict mode would flag every call for it.
# pyright: reportUnknownMemberType=false, reportUnknownArgumentType=false
import contextlib
from typing import Any, Self

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables.aio import TableClient


class TableBacked:
    def __init__(self, client: TableClient) -> None:
        self._client = client
        self._ready = False

    @classmethod
    def from_connection_string(cls, connection_string: str, table: str) -> Self:
        return cls(TableClient.from_connection_string(connection_string, table_name=table))

    async def _table(self) -> TableClient:
        """The client, after creating its table once per instance (a no-op when it exists)."""
        if not self._ready:
            with contextlib.suppress(ResourceExistsError):
                await self._client.create_table()
            self._ready = True
        return self._client

    async def _delete_where(self, query: str, parameters: dict[str, Any]) -> int:
        """Delete every row matching `query` (retention, purges); returns how many went."""
        table = await self._table()
        deleted = 0
        async for row in table.query_entities(query, parameters=parameters, select=["PartitionKey", "RowKey"]):
            try:
                await table.delete_entity(row["PartitionKey"], row["RowKey"])
            except ResourceNotFoundError:
                continue
            deleted += 1
        return deleted

    async def close(self) -> None:
        await self._client.close()
