"""Per-instance health observations, aggregated into one sample per scope and window.

`record` is O(1) and allocation-light (it runs on every request); `drain` turns what was recorded
since the last drain into samples: count, errors, timeouts, throttles and latency percentiles for
the hub itself (scope "hub") and for each upstream (scope "up:<name>").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.health.self_check import SelfCheck
from shared.upstreams.outcome import Outcome

_MAX_LATENCIES = 4096  # per scope and window: enough for percentiles, bounded memory


@dataclass(frozen=True, slots=True)
class Sample:
    region: str
    instance: str
    scope: str
    window_start: float
    window_end: float
    count: int
    errors: int
    timeouts: int
    throttles: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    cold_start: bool = False

    @property
    def error_rate(self) -> float:
        return (self.errors + self.timeouts) / self.count if self.count else 0.0


@dataclass(slots=True)
class _Tally:
    count: int = 0
    errors: int = 0
    timeouts: int = 0
    throttles: int = 0
    latencies: list[float] = field(default_factory=list[float])


def _percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


class HealthRecorder:
    def __init__(
        self, *, region: str, instance: str, clock: Callable[[], float], self_check: SelfCheck | None = None
    ) -> None:
        """`self_check` hears every outcome of scope "hub" as it happens (for `/health`)."""
        self._self_check = self_check
        self.region = region
        self.instance = instance
        self._clock = clock
        self._since = clock()
        self._tallies: dict[str, _Tally] = {}
        self._cold = True

    def record(self, scope: str, seconds: float, outcome: Outcome) -> None:
        if scope == "hub" and self._self_check is not None:
            self._self_check.observe(outcome)
        tally = self._tallies.get(scope)
        if tally is None:
            tally = self._tallies[scope] = _Tally()
        tally.count += 1
        if outcome == "error":
            tally.errors += 1
        elif outcome == "timeout":
            tally.timeouts += 1
        elif outcome == "throttled":
            tally.throttles += 1
        if len(tally.latencies) < _MAX_LATENCIES:
            tally.latencies.append(seconds * 1000)

    def drain(self) -> list[Sample]:
        now = self._clock()
        tallies, self._tallies = self._tallies, {}
        start, self._since = self._since, now
        cold, self._cold = self._cold, False
        samples: list[Sample] = []
        for scope, tally in sorted(tallies.items()):
            ordered = sorted(tally.latencies)
            samples.append(
                Sample(
                    self.region,
                    self.instance,
                    scope,
                    start,
                    now,
                    tally.count,
                    tally.errors,
                    tally.timeouts,
                    tally.throttles,
                    _percentile(ordered, 0.50),
                    _percentile(ordered, 0.95),
                    ordered[-1] if ordered else 0.0,
                    cold,
                )
            )
        return samples
