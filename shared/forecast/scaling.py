"""The forecast sets capacity: each region's always-ready and maximum instances, within guardrails.

Every tick (the capacity timer, every 15 minutes by default) plans each region from today's
forecast (requests per 5-minute slot from midnight UTC, `Forecasts.next_day`):
- **load it carries**: its own forecast, plus an equal share of every drained region's (the
  routing policy's state), since Front Door sends a drained region's callers to the others;
- **always-ready**: enough instances for the busiest slot of the next `horizon_seconds` at the
  capacity model's per-instance rate and target utilisation (so the warm pool is in place before
  the load, and a change is not needed again before the cooldown ends);
- **maximum**: `headroom` times the larger of the day's forecast peak and the busiest slot the
  region served in the last 7 days. The maximum costs nothing until used; it is a cap against a
  runaway, so it never caps a load that was seen last week because the forecast missed it (a
  holiday one week back makes the forecaster under-predict the Monday after it).
Then the guardrails, in this order:
1. each region's **ceiling** (and floor) bounds both numbers;
2. a change moves each number by at most **`max_step`** / **`max_maximum_step`**;
3. the region's **floor** for always-ready, and the **failover floor** for the maximum (enough
   instances to carry the peak of *every* region's load at once, so either region can take the
   other's) are never undercut: they win over the ceiling and the step, and the reason says so;
4. at most **one change per `cooldown_seconds`** per region;
5. in **dry-run** nothing is written; decisions are recorded as if they had been applied (the
   cooldown and steps run from what was planned), so the record shows what `apply` would do.
Every change, refused or held, is recorded with its inputs and reason; each region's latest plan
is kept in its state row for the operator page, whether or not it changed anything.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from shared.audit.events import audit
from shared.forecast.capacity import CapacitySettings
from shared.forecast.flex import MAXIMUM_INSTANCES, Scale, ScaleRefused, ScaleTarget
from shared.forecast.traffic import SLOT_SECONDS, SLOTS_PER_DAY
from shared.identity.decision_log import DecisionLog
from shared.identity.grants import GrantStore

log = logging.getLogger(__name__)

STATE = "scaling-state"
DECISION = "scaling-decision"
Mode = Literal["dry-run", "apply"]


@dataclass(frozen=True, slots=True)
class Guardrails:
    mode: Mode = "dry-run"
    floors: Mapping[str, int] = field(default_factory=dict[str, int])  # region -> least always-ready
    ceilings: Mapping[str, int] = field(default_factory=dict[str, int])  # region -> most instances
    default_floor: int = 1
    default_ceiling: int = 100
    cooldown_seconds: float = 1800.0
    max_step: int = 2
    max_maximum_step: int = 50
    horizon_seconds: float = 3600.0
    headroom: float = 1.5
    decision_days: int = 30

    def floor(self, region: str) -> int:
        return self.floors.get(region, self.default_floor)

    def ceiling(self, region: str) -> int:
        return self.ceilings.get(region, self.default_ceiling)


@dataclass(frozen=True, slots=True)
class Plan:
    """What the forecast asks of one region, before and after the guardrails."""

    region: str
    carried_peak_rps: float
    recent_peak_rps: float
    window_peak_rps: float
    combined_peak_rps: float
    per_instance_rps: float
    asked: Scale
    wanted: Scale
    bounds: tuple[str, ...]

    def inputs(self) -> dict[str, Any]:
        return {
            "windowPeakRps": round(self.window_peak_rps, 2),
            "dayPeakRps": round(self.carried_peak_rps, 2),
            "recentPeakRps": round(self.recent_peak_rps, 2),
            "combinedPeakRps": round(self.combined_peak_rps, 2),
            "perInstanceRps": round(self.per_instance_rps, 2),
            "asked": self.asked.as_dict(),
        }


def carried_loads(forecasts: Mapping[str, Sequence[float]], drained: set[str]) -> dict[str, list[float]]:
    """Each serving region's forecast plus an equal share of the drained ones' (all regions'
    own forecasts when every region is drained: then nothing is being moved)."""
    serving = [r for r in forecasts if r not in drained] or list(forecasts)
    moved = [0.0] * SLOTS_PER_DAY
    for region in forecasts:
        if region in drained and region not in serving:
            for i, v in enumerate(forecasts[region][:SLOTS_PER_DAY]):
                moved[i] += v / len(serving)
    loads: dict[str, list[float]] = {}
    for region, forecast in forecasts.items():
        own = list(forecast[:SLOTS_PER_DAY])
        loads[region] = [a + b for a, b in zip(own, moved, strict=False)] if region in serving else own
    return loads


def plan_region(
    region: str,
    *,
    now: float,
    load: Sequence[float],
    combined_peak_per_slot: float,
    current: Scale,
    recent_peak_per_slot: float = 0.0,
    guardrails: Guardrails,
    capacity: CapacitySettings,
) -> Plan:
    per_instance = capacity.requests_per_second_per_instance * capacity.target_utilisation
    slot = int(now % 86400) // SLOT_SECONDS
    width = max(1, math.ceil(guardrails.horizon_seconds / SLOT_SECONDS))
    window = load[slot : slot + width] or load[-1:]
    window_rps = max(window) / SLOT_SECONDS
    day_rps = max(load) / SLOT_SECONDS
    combined_rps = combined_peak_per_slot / SLOT_SECONDS
    recent_rps = recent_peak_per_slot / SLOT_SECONDS
    asked = Scale(
        math.ceil(window_rps / per_instance), math.ceil(guardrails.headroom * max(day_rps, recent_rps) / per_instance)
    )
    bounds: list[str] = []
    floor, ceiling = guardrails.floor(region), guardrails.ceiling(region)
    ceiling = min(ceiling, MAXIMUM_INSTANCES[1])

    def bounded(value: int, low: int, high: int, what: str) -> int:
        if value < low:
            bounds.append(f"{what} raised to the floor {low}")
            return low
        if value > high:
            bounds.append(f"{what} held at the ceiling {high}")
            return high
        return value

    def stepped(value: int, was: int, step: int, what: str) -> int:
        if abs(value - was) > step:
            bounds.append(f"{what} moved by the largest step {step}")
            return was + step if value > was else was - step
        return value

    ready = bounded(asked.always_ready, floor, ceiling, "always-ready")
    ready = stepped(ready, current.always_ready, guardrails.max_step, "always-ready")
    maximum = bounded(asked.maximum_instances, max(1, floor), ceiling, "maximum")
    maximum = stepped(maximum, current.maximum_instances, guardrails.max_maximum_step, "maximum")
    # The floors win over the ceiling and the step: a region that cannot take the other's load, or
    # that sits below its operator's floor, is worse than a large step or a cost over the ceiling.
    if ready < floor:
        bounds.append(f"always-ready kept at the floor {floor}")
        ready = floor
    failover = min(MAXIMUM_INSTANCES[1], math.ceil(combined_rps / per_instance))
    if maximum < failover:
        bounds.append(f"maximum kept at the failover floor {failover} (every region's peak, {combined_rps:.1f} req/s)")
        maximum = failover
    if maximum < ready:
        bounds.append("maximum raised to the always-ready count")
        maximum = ready
    return Plan(
        region=region,
        carried_peak_rps=day_rps,
        recent_peak_rps=recent_rps,
        window_peak_rps=window_rps,
        combined_peak_rps=combined_rps,
        per_instance_rps=per_instance,
        asked=asked,
        wanted=Scale(ready, maximum),
        bounds=tuple(bounds),
    )


class ScalingController:
    def __init__(
        self,
        targets: Mapping[str, ScaleTarget],
        store: GrantStore,
        *,
        clock: Callable[[], float],
        guardrails: Guardrails,
        capacity: CapacitySettings,
    ) -> None:
        self._targets = dict(targets)
        self._store = store
        self._clock = clock
        self.guardrails = guardrails
        self._capacity = capacity
        self._decisions = DecisionLog(store, DECISION, clock=clock, days=guardrails.decision_days)

    @property
    def regions(self) -> list[str]:
        return sorted(self._targets)

    async def tick(
        self,
        forecasts: Mapping[str, Sequence[float] | None],
        drained: set[str],
        recent_peaks: Mapping[str, float] | None = None,
    ) -> list[dict[str, Any]]:
        """Plan and act on every region that has a forecast; returns the decisions recorded.
        `recent_peaks`: each region's busiest 5-minute slot of the last 7 days (requests)."""
        ready = {r: list(f) for r, f in forecasts.items() if f and r in self._targets}
        if not ready:
            return []
        loads = carried_loads(ready, drained & set(ready))
        combined = max(sum(day) for day in zip(*ready.values(), strict=False))
        decisions: list[dict[str, Any]] = []
        for region in sorted(ready):
            recent = (recent_peaks or {}).get(region, 0.0)
            decision = await self._one(region, loads[region], combined, drained, recent)
            if decision is not None:
                decisions.append(decision)
        return decisions

    async def _one(
        self, region: str, load: list[float], combined: float, drained: set[str], recent: float
    ) -> dict[str, Any] | None:
        now, rails = self._clock(), self.guardrails
        state = await self._store.get(STATE, region, now=now) or {"changedAt": 0.0}
        try:
            actual = await self._targets[region].current()
        except ScaleRefused as error:
            state.update(at=now, error=str(error))
            await self._store.put(STATE, region, state, expires_at=None)
            log.warning("capacity: cannot read %s: %s", region, error)
            return None
        planned = state.get("planned") if rails.mode == "dry-run" else None
        current = Scale(planned["alwaysReady"], planned["maximumInstances"]) if planned else actual
        plan = plan_region(
            region,
            now=now,
            load=load,
            combined_peak_per_slot=combined,
            current=current,
            guardrails=rails,
            capacity=self._capacity,
            recent_peak_per_slot=recent,
        )
        state.update(
            at=now,
            error=None,
            actual=actual.as_dict(),
            wanted=plan.wanted.as_dict(),
            inputs=plan.inputs(),
            bounds=list(plan.bounds),
            drained=sorted(drained),
        )
        decision: dict[str, Any] | None = None
        if plan.wanted != current:
            since = now - float(state["changedAt"])
            if since < rails.cooldown_seconds:
                state["heldUntil"] = float(state["changedAt"]) + rails.cooldown_seconds
            else:
                state.pop("heldUntil", None)
                decision = await self._change(region, current, plan, state)
        await self._store.put(STATE, region, state, expires_at=None)
        return decision

    async def _change(self, region: str, current: Scale, plan: Plan, state: dict[str, Any]) -> dict[str, Any]:
        now, rails = self._clock(), self.guardrails
        error: str | None = None
        if rails.mode == "apply":
            try:
                await self._targets[region].apply(plan.wanted)
            except ScaleRefused as refused:
                error = str(refused)
        if error is None:
            state["changedAt"] = now
            if rails.mode == "dry-run":
                state["planned"] = plan.wanted.as_dict()
        reason = (
            f"next {rails.horizon_seconds / 60:.0f} min peak {plan.window_peak_rps:.1f} req/s, "
            f"day peak {plan.carried_peak_rps:.1f} req/s at {plan.per_instance_rps:.0f} req/s per instance"
        )
        if plan.bounds:
            reason += "; " + "; ".join(plan.bounds)
        decision: dict[str, Any] = {
            "at": now,
            "region": region,
            "mode": rails.mode,
            "before": current.as_dict(),
            "after": plan.wanted.as_dict(),
            "applied": rails.mode == "apply" and error is None,
            "error": error,
            "reason": reason,
            "inputs": plan.inputs() | {"drained": state.get("drained", [])},
        }
        await self._decisions.add(decision, at=now)
        audit(
            "capacity.change",
            region=region,
            mode=rails.mode,
            applied=decision["applied"],
            before=current.as_dict(),
            after=plan.wanted.as_dict(),
            error=error,
        )
        return decision

    async def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        return await self._decisions.recent(limit)

    async def states(self) -> dict[str, dict[str, Any]]:
        return dict(await self._store.items(STATE, now=self._clock()))
