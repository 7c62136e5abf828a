"""A labelled incident generator: minute-by-minute region windows with the kinds of failure a hub
region meets, so the risk model can learn what comes *before* an outage.

Each timeline is normal traffic (daily cycle, noise, the odd harmless blip) and, in most, one
incident of a kind with its own precursor:
    overload    latency and throttling climb for 5-20 minutes, then errors
    software    after a deploy, errors creep up slowly, then jump
    dependency  an upstream's errors rise first, then the hub's
    network     timeouts flicker for a few minutes, then the region drops
An outage is a window with error rate ≥ 20 % or p95 ≥ 5 s; each window is labelled with whether an
outage begins within the next `horizon` windows.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from shared.health.risk import FailureType, RegionWindow

OUTAGE_ERROR_RATE = 0.20
OUTAGE_P95_MS = 5000.0
KINDS: tuple[FailureType, ...] = ("overload", "software", "dependency", "network")


@dataclass(frozen=True, slots=True)
class Timeline:
    windows: list[RegionWindow]
    kind: FailureType  # "none" for a timeline without incident
    outage_at: int | None  # index of the first outage window


def is_outage(window: RegionWindow) -> bool:
    return window.error_rate >= OUTAGE_ERROR_RATE or window.p95_ms >= OUTAGE_P95_MS


def timeline(rng: random.Random, *, length: int = 120, kind: FailureType | None = None) -> Timeline:
    if kind is None:
        kind = rng.choice([*KINDS, "none"])
    start_minute = rng.randrange(0, 24 * 60)
    ramp = rng.randint(5, 20)
    latency = rng.uniform(10, 400)  # regions and upstream mixes differ widely in their normal p95
    volume = rng.uniform(50, 800)
    creep = rng.uniform(0.05, 0.16)  # how far errors creep before a software failure breaks through
    outage_at = rng.randint(40, length - 10) if kind != "none" else None
    windows: list[RegionWindow] = []
    for t in range(length):
        daily = 0.6 + 0.4 * math.sin((start_minute + t) / (24 * 60) * 2 * math.pi)
        requests = max(10, int(rng.gauss(volume * daily, volume * 0.08)))
        error = max(0.0, rng.gauss(0.004, 0.003))
        throttle = max(0.0, rng.gauss(0.001, 0.001))
        p95 = max(5.0, rng.gauss(latency * (0.8 + 0.4 * daily), latency * 0.12))
        up_error = max(0.0, rng.gauss(0.006, 0.004))
        up_timeout = max(0.0, rng.gauss(0.002, 0.002))
        if rng.random() < 0.03:  # a harmless blip: one noisy minute that recovers
            error += rng.uniform(0.02, 0.08)
            p95 *= rng.uniform(1.5, 3.0)
        if outage_at is not None:
            to_go = outage_at - t  # > 0 before the outage, ≤ 0 during it
            progress = 1 - to_go / ramp if 0 < to_go <= ramp else (1.0 if to_go <= 0 else 0.0)
            if kind == "overload":
                p95 *= 1 + 6 * progress**2
                throttle += 0.08 * progress**2
                error += 0.3 if to_go <= 0 else 0.02 * progress
                if to_go <= 0:
                    p95 = max(p95, OUTAGE_P95_MS * rng.uniform(1.0, 1.5))
            elif kind == "software":
                error += creep * progress if to_go > 0 else rng.uniform(0.25, 0.6)
            elif kind == "dependency":
                up_error += 0.4 * progress if to_go > 0 else 0.5
                error += 0.03 * progress**2 if to_go > 0 else rng.uniform(0.22, 0.5)
            else:  # network: short flicker of timeouts, then the region drops
                if 0 < to_go <= 4:
                    up_timeout += rng.uniform(0.02, 0.08)
                    p95 *= rng.uniform(1.3, 2.0)
                if to_go <= 0:
                    error += rng.uniform(0.5, 0.95)
                    up_timeout += 0.3
        windows.append(
            RegionWindow(
                region="r",
                start=t * 60.0,
                end=(t + 1) * 60.0,
                requests=requests,
                error_rate=min(error, 1.0),
                throttle_rate=min(throttle, 1.0),
                p95_ms=p95,
                upstream_error_rate=min(up_error + up_timeout, 1.0),
                upstream_timeout_rate=min(up_timeout, 1.0),
                cold_starts=1 if rng.random() < 0.02 else 0,
                instances=max(1, int(requests / 150)),
            )
        )
    first = next((i for i, w in enumerate(windows) if is_outage(w)), None) if outage_at is not None else None
    return Timeline(windows, kind, first if first is not None else outage_at)


def timelines(seed: int, count: int, *, length: int = 120) -> list[Timeline]:
    rng = random.Random(seed)
    return [timeline(rng, length=length) for _ in range(count)]
