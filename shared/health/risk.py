"""Per-region health windows and the risk assessment made of them.

`windows` folds the instances' samples into one `RegionWindow` per region and minute; a
`RiskModel` turns a region's recent windows into an `Assessment`. `ThresholdModel` is the plain
rule-based baseline (what most gateways do: act when errors or latency cross a line); the learned
model (scikit-learn) must beat it on held-out incidents to be used.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from shared.health.recorder import Sample

FailureType = Literal["none", "network", "overload", "software", "dependency"]


@dataclass(frozen=True, slots=True)
class RegionWindow:
    region: str
    start: float
    end: float
    requests: int
    error_rate: float  # hub requests answered 5xx, or timed out
    throttle_rate: float
    p95_ms: float
    upstream_error_rate: float  # calls to upstreams that failed or timed out
    upstream_timeout_rate: float
    cold_starts: int
    instances: int


@dataclass(frozen=True, slots=True)
class Assessment:
    region: str
    failure_probability: float  # within the model's horizon
    risk_score: float  # 0..100
    failure_type: FailureType
    time_to_failure_s: float | None
    confidence: float
    actions: list[str] = field(default_factory=list[str])
    model: str = "threshold"


class RiskModel(Protocol):
    name: str

    async def prepare(self) -> None:
        """Get ready to assess (a learned model trains here, off the request-serving thread)."""
        ...

    def assess(self, region: str, history: Sequence[RegionWindow]) -> Assessment: ...


def windows(samples: Sequence[Sample], width: float = 60.0) -> dict[str, list[RegionWindow]]:
    """Samples folded per region into windows of `width` seconds (by sample end), oldest first."""
    buckets: dict[tuple[str, int], list[Sample]] = defaultdict(list)
    for sample in samples:
        buckets[(sample.region, int(sample.window_end // width))].append(sample)
    result: dict[str, list[RegionWindow]] = defaultdict(list)
    for (region, bucket), group in sorted(buckets.items()):
        hub = [s for s in group if s.scope == "hub"]
        ups = [s for s in group if s.scope.startswith("up:")]
        requests = sum(s.count for s in hub)
        calls = sum(s.count for s in ups)
        result[region].append(
            RegionWindow(
                region=region,
                start=bucket * width,
                end=(bucket + 1) * width,
                requests=requests,
                error_rate=sum(s.errors + s.timeouts for s in hub) / requests if requests else 0.0,
                throttle_rate=sum(s.throttles for s in hub) / requests if requests else 0.0,
                p95_ms=max((s.p95_ms for s in hub), default=0.0),
                upstream_error_rate=sum(s.errors + s.timeouts for s in ups) / calls if calls else 0.0,
                upstream_timeout_rate=sum(s.timeouts for s in ups) / calls if calls else 0.0,
                cold_starts=sum(1 for s in hub if s.cold_start),
                instances=len({s.instance for s in group}),
            )
        )
    return dict(result)


class ThresholdModel:
    """Fails a region once its latest window crosses a line; no prediction, no lead time."""

    name = "threshold"

    def __init__(self, *, error_rate: float = 0.05, p95_ms: float = 2000.0) -> None:
        self._error_rate = error_rate
        self._p95_ms = p95_ms

    async def prepare(self) -> None:
        return None

    def assess(self, region: str, history: Sequence[RegionWindow]) -> Assessment:
        if not history:
            return Assessment(region, 0.0, 0.0, "none", None, 0.0, [], self.name)
        latest = history[-1]
        failing = latest.error_rate >= self._error_rate or latest.p95_ms >= self._p95_ms
        if not failing:
            return Assessment(region, 0.0, 0.0, "none", None, 0.5, [], self.name)
        kind: FailureType = (
            "dependency"
            if latest.upstream_error_rate >= self._error_rate and latest.error_rate < self._error_rate
            else "overload"
            if latest.throttle_rate > 0.01 or latest.p95_ms >= self._p95_ms
            else "software"
        )
        return Assessment(region, 1.0, 100.0, kind, 0.0, 0.9, [f"drain {region}"], self.name)
