"""Answering usage questions from the aggregates: totals, a time series, breakdowns, top lists."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from shared.usage.meter import CROSSED, GRANULARITIES
from shared.usage.store import UsageStore
from shared.usage.tally import Tally

_TOP = 20


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


View = Callable[[str, str], tuple[str, str] | None]


def _hub_wide(dimension: str, key: str) -> tuple[str, str] | None:
    return None if dimension.endswith(CROSSED) else (dimension, key)


def _of_tenant(tenant: str | None) -> View:
    """The (dimension, key) a row counts for in the view of `tenant` (None: the whole hub), or None."""
    if tenant is None:
        return _hub_wide
    own, user = f"{tenant}/", f"{tenant}:"

    def view(dimension: str, key: str) -> tuple[str, str] | None:
        if dimension.endswith(CROSSED):
            return (dimension.removesuffix(CROSSED), key.removeprefix(own)) if key.startswith(own) else None
        if (dimension == "user" and key.startswith(user)) or (dimension == "session" and key.startswith(own)):
            return dimension, key
        if dimension == "tenant" and key == tenant:
            return dimension, key
        return None

    return view


async def usage_report(store: UsageStore, start: float, end: float, *, tenant: str | None = None) -> dict[str, Any]:
    """Usage between `start` and `end` (epoch seconds), of the whole hub or of one `tenant` (exact:
    from the aggregates crossed with the tenant, see meter.py).

    The series has 5-minute points for ranges up to 6 hours, else hourly points; breakdowns and
    distinct counts cover the whole hours the range touches."""
    view = _of_tenant(tenant)
    hour_start, hour_end = int(start // 3600 * 3600), int(end // 3600 * 3600) + 3600
    hourly = await store.read("h1", hour_start, hour_end)
    granularity = "m5" if end - start <= 6 * 3600 else "h1"
    step = GRANULARITIES[granularity]
    series_rows = (
        await store.read("m5", int(start // step * step), int(end // step * step) + step)
        if granularity == "m5"
        else hourly
    )
    groups: dict[tuple[str, str], Tally] = defaultdict(Tally)
    for row in hourly:
        seen = view(row["Dimension"], row["Key"])
        if seen is not None:
            groups[seen].merge_row(row)
    points: dict[int, Tally] = defaultdict(Tally)
    for row in series_rows:
        seen = view(row["Dimension"], row["Key"])
        if seen is not None and seen[0] == "total":
            points[int(row["PartitionKey"].split("-", 1)[1])].merge_row(row)

    def breakdown(dimension: str) -> list[dict[str, Any]]:
        items = [{"key": key, **m.summary()} for (dim, key), m in groups.items() if dim == dimension]
        return sorted(items, key=lambda i: (-i["requests"], i["key"]))

    def plugins() -> list[dict[str, Any]]:
        rows = [(key, m.outcomes) for (dim, key), m in groups.items() if dim == "plugin"]
        names = {"refused": "refused", "would_refuse": "wouldRefuse", "failed": "failed", "timeout": "timeouts"}
        items = [
            {
                "key": key,
                **{label: counts.get(outcome, 0) for outcome, label in names.items()},
                "modified": counts.get("modified", 0),
            }
            for key, counts in rows
        ]
        return sorted(items, key=lambda i: (-i["refused"] - i["wouldRefuse"], i["key"]))

    servers = breakdown("server")
    return {
        "from": _iso(start),
        "to": _iso(end),
        "totals": groups[("total", "*")].summary() if ("total", "*") in groups else Tally().summary(),
        "series": {
            "stepSeconds": step,
            "points": [{"at": _iso(at), **points[at].summary()} for at in sorted(points)],
        },
        "activeUsers": sum(1 for dim, _ in groups if dim == "user"),
        "activeTenants": sum(1 for dim, _ in groups if dim == "tenant"),
        "activeSessions": sum(1 for dim, _ in groups if dim == "session"),
        "byServer": servers,
        "byRegion": breakdown("region"),
        "byUser": breakdown("user")[:_TOP],
        "topTools": breakdown("tool")[:_TOP],
        "byPlugin": plugins(),
        "slowestUpstreams": sorted(servers, key=lambda s: -(s["p95Ms"] or 0))[:5],
        "failingUpstreams": [s for s in sorted(servers, key=lambda s: -s["errorRate"]) if s["errors"]][:5],
    }
