"""The /health probe: healthy while storage answers, cached so polling is cheap, no secrets."""

from __future__ import annotations

import asyncio

import pytest

from shared.health.probe import HealthProbe
from shared.mcp.sse import OpenStreams, merged
from shared.upstreams.breaker import CircuitBreaker

pytestmark = pytest.mark.anyio


class Storage:
    def __init__(self) -> None:
        self.calls = 0
        self.down = False

    async def check(self) -> None:
        self.calls += 1
        if self.down:
            raise ConnectionError("refused")


def probe(storage: Storage, now: list[float], breaker: CircuitBreaker) -> HealthProbe:
    return HealthProbe(
        check_storage=storage.check,
        breakers={"notes": breaker},
        region="westeurope",
        instance="i1",
        version="0.1.0",
        clock=lambda: now[0],
        cache_seconds=5,
    )


async def test_reports_are_cached_for_a_few_seconds_then_measured_again() -> None:
    storage, now = Storage(), [100.0]
    health = probe(storage, now, CircuitBreaker(failures=1, reset_seconds=30, clock=lambda: now[0]))
    assert (await health.report())[0] is True
    storage.down = True
    assert (await health.report())[0] is True  # cached
    now[0] += 6
    healthy, body = await health.report()
    assert not healthy
    assert body["status"] == "unhealthy"
    assert storage.calls == 2


async def test_an_open_breaker_makes_the_instance_degraded_not_unhealthy() -> None:
    storage, now = Storage(), [100.0]
    breaker = CircuitBreaker(failures=1, reset_seconds=30, clock=lambda: now[0])
    breaker.record_failure()
    healthy, body = await probe(storage, now, breaker).report()
    assert healthy
    assert body["status"] == "degraded"
    assert body["servers"] == {"notes": {"breaker": "open"}}


async def test_dropped_audit_records_make_the_instance_degraded_but_still_serving() -> None:
    storage, now, dropped = Storage(), [100.0], [0]
    health = HealthProbe(
        check_storage=storage.check,
        breakers={},
        region="westeurope",
        instance="i1",
        version="0.1.0",
        clock=lambda: now[0],
        audit_dropped=lambda: dropped[0],
    )
    assert (await health.report())[1]["audit"] == {"dropped": 0}
    dropped[0], now[0] = 7, 200.0
    healthy, body = await health.report()
    assert healthy
    assert (body["status"], body["audit"]) == ("degraded", {"dropped": 7})


async def test_the_report_counts_the_streams_this_instance_holds_open_and_the_most_at_once_live() -> None:
    """The counts are read at each report, not cached with the storage check (the load test reads them)."""
    streams, now = OpenStreams(), [100.0]
    health = HealthProbe(
        check_storage=Storage().check,
        breakers={},
        region="westeurope",
        instance="i1",
        version="0.1.0",
        clock=lambda: now[0],
        streams=streams,
    )

    async def quiet(queue: asyncio.Queue[bytes]) -> None:
        await asyncio.Event().wait()

    first, second = merged([quiet], 60, streams), merged([quiet], 60, streams)
    readers = [asyncio.ensure_future(anext(first)), asyncio.ensure_future(anext(second))]
    await asyncio.sleep(0)  # both streams start: each waits for its first event
    assert (streams.now, streams.peak) == (2, 2)
    _, body = await health.report()
    assert body["streams"] == {"open": 2, "peak": 2}
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    await first.aclose()
    await second.aclose()
    _, body = await health.report()
    assert body["streams"] == {"open": 0, "peak": 2}
