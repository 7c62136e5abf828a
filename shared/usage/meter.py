"""Counting calls into usage aggregates as they happen (a call sink), written every few seconds.

Per 5-minute window: totals, per server, per region. Per hour: the same plus per tool, per user,
per tenant and per session (hashed), and per plugin what plugins refused, failed at or changed
(`plugin`). A query reads these rows, never the raw call records.

Crossed with the tenant on a hub that admits several (`per_tenant`), so that one tenant's view is
exact: the same windows count each tenant's total (5-minute and hourly), servers, regions, tools
and plugins again, as dimension `<dimension>@tenant` with key `<tenant id>/<key>`. Users and
sessions need no second row: a user key starts with its tenant ("<tid>:<oid>"), and so does a
session key ("<tid>/<hash>"), and each belongs to one tenant. Rows per window grow by, per active
tenant, 1 every 5 minutes and 1 + the servers, regions, tools and plugins it used every hour; a
hub with one tenant writes none (its operators see the whole hub).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Callable
from urllib.parse import quote

from shared.background import FlushSoon
from shared.call_record import CallRecord, PluginEvent
from shared.usage.store import Row, UsageStore, partition
from shared.usage.tally import Counted, Tally

log = logging.getLogger(__name__)

GRANULARITIES = {"m5": 300, "h1": 3600}
_DIMENSIONS = {
    "m5": ("total", "server", "region"),
    "h1": ("total", "server", "region", "tool", "user", "tenant", "session"),
}
_CROSSED = {
    "m5": ("total",),
    "h1": ("total", "server", "region", "tool"),
}
CROSSED = "@tenant"  # the suffix of a dimension counted per tenant
_KEEP_SECONDS = 2 * 3600  # windows stay in memory this long after they end (late calls, re-flush)


def _keys(record: CallRecord, dimension: str) -> str | None:
    if dimension == "total":
        return "*"
    if dimension == "tool":
        return f"{record.server}/{record.tool}" if record.method == "tools/call" and record.tool else None
    if dimension == "session":
        if not record.session:
            return None
        hashed = hashlib.sha256(record.session.encode()).hexdigest()[:16]
        return f"{record.tenant}/{hashed}" if record.tenant else hashed
    return str(getattr(record, dimension)) or None


class UsageMeter:
    def __init__(
        self,
        store: UsageStore,
        *,
        instance: str,
        clock: Callable[[], float],
        flush_seconds: float = 10.0,
        per_tenant: bool = True,
    ) -> None:
        self._store = store
        self._per_tenant = per_tenant
        self.writer = f"{instance}.{secrets.token_hex(3)}"
        self._clock = clock
        self._tallies: dict[tuple[str, int, str, str], Tally] = {}
        self._dirty: set[tuple[str, int, str, str]] = set()
        self._lock = asyncio.Lock()
        self._soon = FlushSoon(flush_seconds, self.flush)

    def __call__(self, record: CallRecord) -> None:
        call = Counted.of(record)
        keys = {dimension: _keys(record, dimension) for dimension in _DIMENSIONS["h1"]}
        count = self._count
        tenant = record.tenant if self._per_tenant else ""
        for granularity, seconds in GRANULARITIES.items():
            start = int(record.at // seconds * seconds)
            for dimension in _DIMENSIONS[granularity]:
                key = keys[dimension]
                if key is not None:
                    count((granularity, start, dimension, key), call)
            if tenant:
                for dimension in _CROSSED[granularity]:
                    key = keys[dimension]
                    if key is not None:
                        count((granularity, start, dimension + CROSSED, f"{tenant}/{key}"), call)
        self._soon.schedule()

    def plugin(self, event: PluginEvent) -> None:
        """A plugin sink: one count in the hour's row of that plugin (and of it for the tenant)."""
        hour = int(event.at // 3600 * 3600)
        slots = [("h1", hour, "plugin", event.plugin)]
        if event.tenant and self._per_tenant:
            slots.append(("h1", hour, "plugin" + CROSSED, f"{event.tenant}/{event.plugin}"))
        counted = Counted.plugin(event)
        for slot in slots:
            self._count(slot, counted)
        self._soon.schedule()

    def _count(self, slot: tuple[str, int, str, str], call: Counted) -> None:
        tally = self._tallies.get(slot)
        if tally is None:
            tally = self._tallies[slot] = Tally()
        tally.count_call(call)
        self._dirty.add(slot)

    async def flush(self) -> int:
        """Write every aggregate that changed since the last flush; returns how many rows."""
        async with self._lock:
            dirty, self._dirty = self._dirty, set()
            rows = [self._row(slot) for slot in sorted(dirty)]
            try:
                await self._store.upsert(rows)
            except Exception as exc:  # storage down: the totals stay in memory and go with the next flush
                log.warning("usage: %d aggregate(s) not written yet: %s", len(rows), type(exc).__name__)
                self._dirty |= dirty
                self._soon.schedule()
                return 0
            horizon = self._clock() - _KEEP_SECONDS
            for slot in [s for s in self._tallies if s[1] + GRANULARITIES[s[0]] < horizon and s not in self._dirty]:
                del self._tallies[slot]
            return len(rows)

    def _row(self, slot: tuple[str, int, str, str]) -> Row:
        granularity, start, dimension, key = slot
        tally = self._tallies[slot]
        return {
            "PartitionKey": partition(granularity, start),
            "RowKey": f"{dimension}|{quote(key, safe='')}|{self.writer}",
            "Dimension": dimension,
            "Key": key,
            **tally.fields(),
        }
