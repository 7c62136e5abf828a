"""Where health samples go: Table Storage, read back by the health timer for a time window.

PartitionKey = the hour (`int(window_end // 3600)`), so a window query reads one or two
partitions; RowKey = `<region>|<window end ms>|<instance>|<scope>`, unique per instance and window.
"""

from __future__ import annotations

# The Azure SDK types its **kwargs loosely; strict mode would flag every call for it.
# pyright: reportUnknownMemberType=false, reportUnknownArgumentType=false
from dataclasses import asdict, fields
from typing import Any, Protocol

from azure.data.tables import TableTransactionError, UpdateMode

from shared.health.recorder import Sample
from shared.tables import TableBacked

_FIELDS = [f.name for f in fields(Sample)]


class SampleStore(Protocol):
    async def add(self, samples: list[Sample]) -> None: ...

    async def window(self, since: float, until: float) -> list[Sample]:
        """Samples whose window ended in [since, until), every region and instance."""
        ...

    async def delete_before(self, until: float) -> int:
        """Delete the samples of every whole hour before the hour of `until` (retention); how many."""
        ...


class MemorySampleStore:
    def __init__(self) -> None:
        self._samples: dict[tuple[str, int, str, str], Sample] = {}

    async def add(self, samples: list[Sample]) -> None:
        for s in samples:
            self._samples[(s.region, int(s.window_end * 1000), s.instance, s.scope)] = s

    async def window(self, since: float, until: float) -> list[Sample]:
        return sorted(
            (s for s in self._samples.values() if since <= s.window_end < until), key=lambda s: (s.window_end, s.region)
        )

    async def delete_before(self, until: float) -> int:
        old = [k for k, s in self._samples.items() if s.window_end // 3600 < until // 3600]
        for key in old:
            del self._samples[key]
        return len(old)


class TableSampleStore(TableBacked):
    async def add(self, samples: list[Sample]) -> None:
        table = await self._table()
        by_partition: dict[str, list[dict[str, Any]]] = {}
        for sample in samples:
            partition = str(int(sample.window_end // 3600))
            row = f"{sample.region}|{int(sample.window_end * 1000):013d}|{sample.instance}|{sample.scope}"
            entity = {"PartitionKey": partition, "RowKey": row, **asdict(sample)}
            by_partition.setdefault(partition, []).append(entity)
        for entities in by_partition.values():
            for start in range(0, len(entities), 100):  # a transaction holds at most 100 entities
                operations = [("upsert", e, {"mode": UpdateMode.REPLACE}) for e in entities[start : start + 100]]
                try:
                    await table.submit_transaction(operations)
                except TableTransactionError:
                    for entity in entities[start : start + 100]:
                        await table.upsert_entity(entity, mode=UpdateMode.REPLACE)

    async def window(self, since: float, until: float) -> list[Sample]:
        table = await self._table()
        found: list[Sample] = []
        for hour in range(int(since // 3600), int(until // 3600) + 1):
            query = "PartitionKey eq @p and window_end ge @since and window_end lt @until"
            params = {"p": str(hour), "since": float(since), "until": float(until)}
            entities = table.query_entities(query, parameters=params)
            found.extend([Sample(**{name: entity[name] for name in _FIELDS}) async for entity in entities])
        return sorted(found, key=lambda s: (s.window_end, s.region))

    async def delete_before(self, until: float) -> int:
        # Hour partitions are the hour number as text: six digits until 2084, so text order is hour order.
        return await self._delete_where(
            "PartitionKey ge @low and PartitionKey lt @high", {"low": "0", "high": str(int(until // 3600))}
        )
