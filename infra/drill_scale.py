"""`make drill-scale`: three synthetic weeks replayed through the forecaster and the capacity controller.

    .venv/bin/python -m infra.drill_scale [--days 21] [--seed 11]

Two regions of realistic synthetic traffic (`shared/forecast/traffic.py`: working days, lunch dip,
quiet weekends, holidays, bursts, a trend; westeurope peaking near 1,000 req/s, northeurope near
600), after three weeks of history. Each replayed day, as in production:
- the forecaster is refitted on the 28 days before it and forecasts the day (`Forecasts.next_day`);
- the controller (`ScalingController`, mode apply, the default guardrails of `MCPHUB_SCALING__*`)
  ticks every 15 minutes against an in-memory Flex target per region;
- on day 9 northeurope is drained from 09:00 to 13:00 (the routing policy's state): its callers go
  to westeurope, and the controller is told, as the timer tells it.
Every 5-minute slot is then scored against the load that actually came:
- **instances needed** = the slot's req/s over the capacity model's per-instance rate at its
  target utilisation (`MCPHUB_FORECAST__*`: 150 req/s at 70 %);
- **warm-pool short** minutes: more needed than always-ready (Flex adds on-demand instances, with a
  cold start, so this is latency, not failure);
- **capped** minutes: more needed at 100 % utilisation than the maximum (calls would queue or fail:
  real under-provisioning);
- **cost**: each slot's Flex bill (`slot_cost`, 2025 list prices), against a static plan sized for
  the replay's peak in hindsight (always-ready for the peak all the time) and against the Bicep
  default (always-ready 1, maximum 100).
Prints one sample day hour by hour (the plan beside the load), a table per region and week, and a
last line with the totals.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

from shared.forecast.capacity import CapacitySettings, slot_cost
from shared.forecast.flex import MemoryScaleTarget, Scale
from shared.forecast.model import LoadForecaster
from shared.forecast.scaling import Guardrails, ScalingController
from shared.forecast.service import HISTORY_DAYS
from shared.forecast.traffic import SLOT_SECONDS, SLOTS_PER_DAY, generate
from shared.identity.grants import MemoryGrantStore
from shared.settings import ScalingSettings

REGIONS = {"westeurope": (300_000.0, 11), "northeurope": (180_000.0, 12)}  # peak requests per slot, seed
HISTORY_WEEKS = 3
TICK_SECONDS = 900
DAY0 = 20_003  # a Monday (days since the epoch), like the synthetic series' first day
DRAIN = ("northeurope", 9, 9 * 3600, 13 * 3600)  # region, replay day, from, to (seconds into the day)
DEFAULT = Scale(1, 100)  # what Bicep deploys


@dataclass
class Score:
    slots: int = 0
    peak_rps: float = 0.0
    warm_short: int = 0  # slots
    capped: int = 0
    cost: float = 0.0
    static_cost: float = 0.0
    default_cost: float = 0.0
    default_warm_short: int = 0
    ready: list[int] = field(default_factory=list[int])


def needed(count: float, per_instance: float) -> int:
    return math.ceil(count / SLOT_SECONDS / per_instance) if count > 0 else 0


async def replay(
    days: int, seed: int, out: TextIO = sys.stdout, overrides: dict[str, float] | None = None
) -> dict[str, object]:
    write = out.write
    capacity = CapacitySettings()
    planned = capacity.requests_per_second_per_instance * capacity.target_utilisation
    full = capacity.requests_per_second_per_instance
    total_days = HISTORY_WEEKS * 7 + days
    weeks = math.ceil(total_days / 7)
    series = {r: generate(weeks, peak_per_slot=p, seed=s + seed - 11) for r, (p, s) in REGIONS.items()}
    defaults = ScalingSettings.model_validate(overrides or {})
    rails = Guardrails(
        mode="apply",
        default_floor=defaults.default_floor,
        default_ceiling=defaults.default_ceiling,
        cooldown_seconds=defaults.cooldown_seconds,
        max_step=defaults.max_step,
        max_maximum_step=defaults.max_maximum_step,
        horizon_seconds=defaults.horizon_seconds,
        headroom=defaults.headroom,
    )
    targets = {r: MemoryScaleTarget(DEFAULT) for r in REGIONS}
    now = [0.0]
    controller = ScalingController(
        targets, MemoryGrantStore(), clock=lambda: now[0], guardrails=rails, capacity=capacity
    )
    # Actual load each region carried, slot by slot (the drained region's callers move).
    carried = {r: list(s[HISTORY_WEEKS * 7 * SLOTS_PER_DAY : total_days * SLOTS_PER_DAY]) for r, s in series.items()}
    drained_region, drain_day, drain_from, drain_to = DRAIN
    if drain_day < days:
        for slot in range(drain_from // SLOT_SECONDS, drain_to // SLOT_SECONDS):
            i = drain_day * SLOTS_PER_DAY + slot
            carried["westeurope"][i] += carried[drained_region][i]
            carried[drained_region][i] = 0.0
    plan: dict[str, list[Scale]] = {r: [] for r in REGIONS}
    decisions = 0
    fit_seconds = 0.0
    for day in range(days):
        index = HISTORY_WEEKS * 7 + day
        forecasts: dict[str, list[float] | None] = {}
        recent: dict[str, float] = {}
        for region, counts in series.items():
            first = max(0, index - HISTORY_DAYS)
            history = counts[first * SLOTS_PER_DAY : index * SLOTS_PER_DAY]
            started = time.process_time()
            model = LoadForecaster().fit(history, start_weekday=first % 7)
            forecasts[region] = model.predict_next_day(history)
            # What the region itself served in the last 7 days (its usage rows), drained hours included.
            served = counts[: HISTORY_WEEKS * 7 * SLOTS_PER_DAY] + carried[region]
            recent[region] = max(served[(index - 7) * SLOTS_PER_DAY : index * SLOTS_PER_DAY])
            fit_seconds += time.process_time() - started
        for tick in range(86400 // TICK_SECONDS):
            now[0] = (DAY0 + index) * 86400.0 + tick * TICK_SECONDS
            into = tick * TICK_SECONDS
            drained = {drained_region} if day == drain_day and drain_from <= into < drain_to else set[str]()
            decisions += len(await controller.tick(forecasts, drained, recent))
            for region, target in targets.items():
                plan[region].extend([await target.current()] * (TICK_SECONDS // SLOT_SECONDS))
    scores: dict[tuple[str, int], Score] = {}
    for region in REGIONS:
        peak = max(carried[region])
        static = Scale(max(1, needed(peak, planned)), math.ceil(1.5 * peak / SLOT_SECONDS / planned))
        for i, count in enumerate(carried[region]):
            score = scores.setdefault((region, i // (7 * SLOTS_PER_DAY)), Score())
            scale = plan[region][i]
            score.slots += 1
            score.peak_rps = max(score.peak_rps, count / SLOT_SECONDS)
            score.warm_short += needed(count, planned) > scale.always_ready
            score.capped += needed(count, full) > scale.maximum_instances
            score.cost += slot_cost(count, scale.always_ready, capacity)
            score.static_cost += slot_cost(count, static.always_ready, capacity)
            score.default_cost += slot_cost(count, DEFAULT.always_ready, capacity)
            score.default_warm_short += needed(count, planned) > DEFAULT.always_ready
            score.ready.append(scale.always_ready)
        write(f"{region}: static plan for its replay peak {peak / SLOT_SECONDS:.0f} req/s: {static.as_dict()}\n")

    sample = min(8, days - 1)  # a Tuesday of the second replayed week, when there is one
    write(f"\nday {sample + 1} (westeurope): the plan beside the load, hour by hour\n")
    write(f"{'hour':>4} {'req/s':>7} {'needed':>7} {'always-ready':>13} {'maximum':>8}\n")
    for hour in range(24):
        slots = range((sample * 24 + hour) * 12, (sample * 24 + hour + 1) * 12)
        rps = max(carried["westeurope"][i] for i in slots) / SLOT_SECONDS
        ready = min(plan["westeurope"][i].always_ready for i in slots)
        maximum = min(plan["westeurope"][i].maximum_instances for i in slots)
        write(f"{hour:>4} {rps:>7.0f} {math.ceil(rps / planned):>7} {ready:>13} {maximum:>8}\n")

    write(
        f"\n{'region':<12} {'week':>4} {'peak req/s':>10} {'warm-short min':>15} {'capped min':>11} "
        f"{'cost $':>9} {'static $':>9} {'ratio':>6} {'default $':>10} {'default short min':>18}\n"
    )
    for (region, week), s in sorted(scores.items()):
        write(
            f"{region:<12} {week + 1:>4} {s.peak_rps:>10.0f} {s.warm_short * 5:>15} {s.capped * 5:>11} "
            f"{s.cost:>9.2f} {s.static_cost:>9.2f} {s.cost / s.static_cost:>6.2f} {s.default_cost:>10.2f} "
            f"{s.default_warm_short * 5:>18}\n"
        )
    total = Score()
    for s in scores.values():
        total.slots += s.slots
        total.warm_short += s.warm_short
        total.capped += s.capped
        total.cost += s.cost
        total.static_cost += s.static_cost
        total.default_cost += s.default_cost
        total.default_warm_short += s.default_warm_short
    minutes = total.slots * 5
    result: dict[str, object] = {
        "days": days,
        "decisions": decisions,
        "warm_short_minutes": total.warm_short * 5,
        "capped_minutes": total.capped * 5,
        "region_minutes": minutes,
        "cost": round(total.cost, 2),
        "static_cost": round(total.static_cost, 2),
        "default_cost": round(total.default_cost, 2),
        "default_warm_short_minutes": total.default_warm_short * 5,
    }
    write(
        f"\nforecaster: {fit_seconds:.1f} CPU s for {days * len(REGIONS)} daily fits; controller: {decisions} changes "
        f"in {days * 96 * len(REGIONS)} region-ticks\n"
        f"{days} days, {len(REGIONS)} regions: under-provisioned {total.capped * 5} of {minutes} region-minutes "
        f"(capped), warm pool short {total.warm_short * 5} min ({100 * total.warm_short / total.slots:.1f} %); "
        f"cost ${total.cost:.2f} vs ${total.static_cost:.2f} static for the peak "
        f"({total.cost / total.static_cost:.2f}x); Bicep default ${total.default_cost:.2f} with the warm pool short "
        f"{total.default_warm_short * 5} min\n"
    )
    return result


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m infra.drill_scale")
    parser.add_argument("--days", type=int, default=21, help="days replayed after three weeks of history")
    parser.add_argument("--seed", type=int, default=11)
    for knob in ("cooldown_seconds", "max_step", "max_maximum_step", "horizon_seconds", "headroom"):
        parser.add_argument("--" + knob.replace("_", "-"), type=float, help=f"MCPHUB_SCALING__{knob.upper()}")
    args = parser.parse_args(argv)
    knobs = ("cooldown_seconds", "max_step", "max_maximum_step", "horizon_seconds", "headroom")
    overrides = {k: getattr(args, k) for k in knobs if getattr(args, k) is not None}
    for k in ("max_step", "max_maximum_step"):
        if k in overrides:
            overrides[k] = int(overrides[k])
    if overrides:
        sys.stdout.write(f"guardrails changed: {overrides}\n")
    return asyncio.run(replay(args.days, args.seed, overrides=overrides))


if __name__ == "__main__":
    main()
