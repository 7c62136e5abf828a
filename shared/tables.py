"""What every Table Storage-backed store here shares: one async client, the table created on first use."""

from __future__ import annotations

# The Azure SDK types its **kwargs loosely; strict mode would flag every call for it.
# pyright: reportUnknownMemberType=false
import contextlib
from typing import Self

from azure.core.exceptions import ResourceExistsError
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

    async def close(self) -> None:
        await self._client.close()
