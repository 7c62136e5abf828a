"""What every Table Storage-backed store here shares: one async client, the table created on first
use, and a deadline on every call.

A frozen or dead store must not hang a request: the Azure SDK's own timeouts are minutes and it
retries on top, so `initialize` hung past a client's 40 s timeout with Azurite stopped. Every call
through `_table()` (and every page of a query) runs under `timeout_seconds` (MCPHUB_STORAGE_TIMEOUT_SECONDS,
default 3 s, retries included), and a call that passes it, or cannot connect, raises StorageUnavailable
naming the table: the request path answers 503 with Retry-After at once; background writers
(audit, usage, health samples) keep what they hold and try again.
"""

from __future__ import annotations

# The Azure SDK types its **kwargs loosely; strict mode would flag every call for it.
# pyright: reportUnknownMemberType=false, reportUnknownArgumentType=false, reportUnknownVariableType=false
import asyncio
import contextlib
import os
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Self, cast

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline.transport import AioHttpTransport
from azure.data.tables.aio import TableClient

from shared.errors import StorageUnavailable

DEFAULT_TIMEOUT_SECONDS = 3.0


def storage_timeout() -> float:
    """MCPHUB_STORAGE_TIMEOUT_SECONDS, read where clients are built (the stores take it as a parameter)."""
    return float(os.environ.get("MCPHUB_STORAGE_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS))


def transport_options() -> dict[str, Any]:
    """The Table clients' transport: without proxy variables in the environment, one that does not
    look for them on every request.

    azure-core's aiohttp transport asks aiohttp to trust the environment (`trust_env`), and aiohttp
    then reads the proxy variables in a worker thread for every request: 1.6-1.9 ms CPU per insert
    on Azurite against 1.1-1.3 without, three alternating runs of 300 (a session's `initialize` is
    one insert). Where a proxy is configured (HTTP_PROXY, HTTPS_PROXY...), the default stays and
    the proxy is used as before."""
    if any(scheme != "no" for scheme in urllib.request.getproxies()):
        return {}
    return {"transport": AioHttpTransport(use_env_settings=False)}


class DeadlineTable:
    """A TableClient whose every call ends within `timeout` seconds or raises StorageUnavailable."""

    def __init__(self, client: TableClient, timeout: float) -> None:
        self._client = client
        self._timeout = timeout
        self.name = client.table_name

    def _unavailable(self, why: str) -> StorageUnavailable:
        return StorageUnavailable(
            f"storage table {self.name!r} {why}; retry shortly (MCPHUB_STORAGE_TIMEOUT_SECONDS={self._timeout:g})",
            store=self.name,
        )

    async def _call(self, method: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
        try:
            async with asyncio.timeout(self._timeout):
                return await method(*args, **kwargs)
        except TimeoutError:
            raise self._unavailable(f"did not answer within {self._timeout:g} s") from None
        except (ServiceRequestError, ServiceResponseError) as failed:
            raise self._unavailable(f"could not be reached ({type(failed).__name__})") from None

    def __getattr__(self, name: str) -> Any:
        method: Any = getattr(self._client, name)
        if name in ("query_entities", "list_entities"):

            def pages(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
                return self._pages(method(*args, **kwargs))

            return pages
        if not callable(method) or name in ("close",):
            return method

        target = cast(Callable[..., Awaitable[Any]], method)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await self._call(target, *args, **kwargs)

        return call

    async def _pages(self, rows: Any) -> AsyncIterator[Any]:
        iterator = rows.__aiter__()
        while True:
            try:
                row = await self._call(iterator.__anext__)
            except StopAsyncIteration:
                return
            yield row


async def delete_unchanged(table: Any, row: Any) -> bool:
    """Delete a row read by a query, unless it changed or went since: whether this call deleted it.

    Every region runs the same purges at the same minute: without this both would count the row
    (the SDK reports success for a row already gone), and a row updated after the query (a session
    used again) would go too.
    """
    statuses: list[int] = []

    def seen(response: Any) -> None:
        statuses.append(response.http_response.status_code)

    try:
        await table.delete_entity(
            row["PartitionKey"],
            row["RowKey"],
            etag=row.metadata["etag"],
            match_condition=MatchConditions.IfNotModified,
            # The SDK answers "deleted" for a row that was already gone: the status tells them apart.
            raw_response_hook=seen,
        )
    except (ResourceNotFoundError, ResourceModifiedError):
        return False
    return statuses[-1:] == [204]


class TableBacked:
    def __init__(self, client: TableClient, *, timeout_seconds: float | None = None) -> None:
        self._client = client
        self._deadline = DeadlineTable(client, timeout_seconds if timeout_seconds is not None else storage_timeout())
        self._ready = False

    @classmethod
    def from_connection_string(cls, connection_string: str, table: str) -> Self:
        return cls(TableClient.from_connection_string(connection_string, table_name=table, **transport_options()))

    async def _table(self) -> Any:
        """The client (under deadlines), after creating its table once per instance (a no-op when it exists)."""
        if not self._ready:
            with contextlib.suppress(ResourceExistsError):
                await self._deadline.create_table()
            self._ready = True
        return self._deadline

    async def _delete_where(self, query: str, parameters: dict[str, Any]) -> int:
        """Delete every row matching `query` (retention, purges); returns how many went."""
        table = await self._table()
        deleted = 0
        async for row in table.query_entities(query, parameters=parameters, select=["PartitionKey", "RowKey"]):
            if await delete_unchanged(table, row):
                deleted += 1
        return deleted

    async def close(self) -> None:
        await self._client.close()
