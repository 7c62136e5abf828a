"""Usage analytics: calls counted into mergeable aggregates by every instance, and reports read
from those aggregates (not raw records) with the right totals, percentiles and breakdowns."""

from __future__ import annotations

import random

import pytest

from shared.call_record import CallRecord
from shared.usage.histogram import Histogram
from shared.usage.meter import UsageMeter
from shared.usage.report import usage_report
from shared.usage.store import MemoryUsageStore

pytestmark = pytest.mark.anyio
T0 = 1_764_000_000.0  # a whole hour


def call(
    at: float, ms: float, *, user: str = "t1:alice", server: str = "notes", tool: str = "echo", **rest: str
) -> CallRecord:
    fields: dict[str, object] = {
        "at": at,
        "user": user,
        "tenant": user.split(":")[0],
        "server": server,
        "method": "tools/call",
        "tool": tool,
        "outcome": "ok",
        "seconds": ms / 1000,
        "region": "weu",
        "session": "",
    }
    fields.update(rest)
    return CallRecord(**fields)  # type: ignore[arg-type]  # the dataclass checks the fields


def true_quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(q * len(ordered) + 0.999999) - 1)]


def test_percentiles_from_merged_histograms_are_within_one_bucket_of_the_truth() -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(3, 1) for _ in range(5000)]
    halves = Histogram(), Histogram()
    for n, value in enumerate(values):
        halves[n % 2].add(value)
    merged = Histogram.merged(halves)
    for q in (0.5, 0.95, 0.99):
        estimate = merged.quantile(q)
        assert estimate is not None
        assert true_quantile(values, q) <= estimate <= true_quantile(values, q) * 1.21


async def test_two_instances_counting_the_same_hour_add_up_in_the_report() -> None:
    store = MemoryUsageStore()
    a = UsageMeter(store, instance="a", clock=lambda: T0)
    b = UsageMeter(store, instance="b", clock=lambda: T0)
    rng = random.Random(1)
    latencies: list[float] = []
    for n in range(2000):
        ms = rng.uniform(5, 50) if n % 100 else 900.0
        latencies.append(ms)
        meter = a if n % 2 else b
        outcome = "error" if n % 50 == 0 else "ok"
        meter(call(T0 + n, ms, user=f"t{n % 2}:u{n % 7}", server="slow" if n % 10 == 0 else "notes", outcome=outcome))
    await a.flush()
    await b.flush()
    assert len(store.rows) < 150  # aggregates, not the 2,000 calls
    report = await usage_report(store, T0, T0 + 3600)
    totals = report["totals"]
    assert (totals["requests"], totals["errors"]) == (2000, 40)
    assert true_quantile(latencies, 0.95) <= totals["p95Ms"] <= true_quantile(latencies, 0.95) * 1.21
    assert report["activeUsers"] == 14
    assert report["activeTenants"] == 2
    assert {s["key"]: s["requests"] for s in report["byServer"]} == {"notes": 1800, "slow": 200}
    assert report["slowestUpstreams"][0]["key"] == "slow"
    assert report["topTools"][0]["key"] == "notes/echo"
    assert sum(p["requests"] for p in report["series"]["points"]) == 2000
    assert report["series"]["stepSeconds"] == 300


async def test_a_flush_rewrites_running_totals_so_nothing_is_counted_twice() -> None:
    store = MemoryUsageStore()
    meter = UsageMeter(store, instance="a", clock=lambda: T0)
    meter(call(T0, 10))
    await meter.flush()
    meter(call(T0 + 1, 10))
    await meter.flush()
    await meter.flush()
    assert (await usage_report(store, T0, T0 + 60))["totals"]["requests"] == 2


async def test_calls_refused_by_a_rate_limit_count_as_errors_without_a_latency() -> None:
    store = MemoryUsageStore()
    meter = UsageMeter(store, instance="a", clock=lambda: T0)
    meter(call(T0, 0.0, outcome="rate_limited"))
    meter(call(T0, 20.0, outcome="tool_error"))
    await meter.flush()
    totals = (await usage_report(store, T0, T0 + 60))["totals"]
    assert (totals["requests"], totals["errors"], totals["outcomes"]) == (2, 1, {"rate_limited": 1, "tool_error": 1})
    assert totals["p50Ms"] is not None
    assert totals["p50Ms"] >= 20.0


async def test_a_long_range_is_reported_in_hourly_points() -> None:
    store = MemoryUsageStore()
    meter = UsageMeter(store, instance="a", clock=lambda: T0)
    for hour in range(10):
        meter(call(T0 + hour * 3600 + 5, 10))
    await meter.flush()
    report = await usage_report(store, T0, T0 + 10 * 3600)
    assert report["series"]["stepSeconds"] == 3600
    assert [p["requests"] for p in report["series"]["points"]] == [1] * 10
