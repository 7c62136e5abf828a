"""What counting usage per tenant costs: rows per hour and meter CPU per call, for 1, 2 and 5 tenants.

    .venv/bin/python -m infra.usage_rows

One writer, one hour: 5,000 calls over 4 servers with 5 tools each, 100 users with 2 sessions each,
one region, spread over the tenants at random (seeded). Prints the hub-wide rows, the per-tenant
rows a hub with several tenants adds (none with one), and the meter's CPU per call with and without
per-tenant counting (best of 5 timeit runs).
"""

from __future__ import annotations

import asyncio
import random
import timeit

from shared.call_record import CallRecord
from shared.usage.meter import CROSSED, UsageMeter
from shared.usage.store import MemoryUsageStore

T0 = 1_764_000_000.0  # a whole hour
CALLS, SERVERS, TOOLS, USERS = 5000, 4, 5, 100


def record(rng: random.Random, tenants: int) -> CallRecord:
    tenant, user = f"t{rng.randrange(tenants)}", f"u{rng.randrange(USERS // tenants)}"
    return CallRecord(
        at=T0 + rng.random() * 3599,
        user=f"{tenant}:{user}",
        tenant=tenant,
        server=f"s{rng.randrange(SERVERS)}",
        method="tools/call",
        tool=f"tool{rng.randrange(TOOLS)}",
        outcome="ok",
        seconds=0.01,
        region="weu",
        session=f"{tenant}-{user}-{rng.randrange(2)}",
    )


async def rows(tenants: int) -> tuple[int, int]:
    rng, store = random.Random(1), MemoryUsageStore()
    meter = UsageMeter(store, instance="a", clock=lambda: T0, per_tenant=tenants > 1)
    for _ in range(CALLS):
        meter(record(rng, tenants))
    await meter.flush()
    crossed = sum(1 for row in store.rows.values() if row["Dimension"].endswith(CROSSED))
    return len(store.rows) - crossed, crossed


def cpu_us(per_tenant: bool) -> float:
    meter = UsageMeter(MemoryUsageStore(), instance="a", clock=lambda: T0, per_tenant=per_tenant)
    meter._soon.schedule = lambda: None  # pyright: ignore[reportPrivateUsage] - no flush task: the meter alone is timed
    call = record(random.Random(2), 2)
    n = 100_000
    return min(timeit.repeat(lambda: meter(call), number=n, repeat=5)) / n * 1e6


def main() -> None:
    for tenants in (1, 2, 5):
        hub_wide, crossed = asyncio.run(rows(tenants))
        line = f"{tenants} tenant(s): {hub_wide} hub-wide rows, +{crossed} per-tenant rows (+{crossed / hub_wide:.0%})"
        print(line)  # noqa: T201 - the measurement's output
    cpu = f"meter CPU per call: {cpu_us(False):.1f} us without per-tenant counting, {cpu_us(True):.1f} us with"
    print(cpu)  # noqa: T201 - the measurement's output


if __name__ == "__main__":
    main()
