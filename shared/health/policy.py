"""Routing decisions: drain a region at risk before it fails, restore it after sustained health.

Per region the policy keeps a small state row (shared by every instance through the grant store):
drained or not, when it last changed, how many healthy evaluations in a row it has had, and until
when a change is still propagating through Front Door (minutes; nothing else is decided for that
region meanwhile). Draining needs the risk over the threshold; restoring needs `restore_after`
healthy evaluations and the cooldown since the last change. A drained region gets no traffic, so
its "healthy" evaluations carry little evidence: when it must be drained again soon after a
restore, its cooldown doubles (up to 16 times), so a flapping region is not bounced back and
forth. The controller itself refuses to disable the last enabled origin, or the last one its router
sees up while the others are down. Every change, and every
refused one, is recorded with its inputs and reason.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from shared.audit.events import audit
from shared.health.risk import Assessment
from shared.health.routing import RoutingController, RoutingError
from shared.identity.decision_log import DecisionLog
from shared.identity.grants import GrantStore

log = logging.getLogger(__name__)

STATE = "routing-state"
DECISION = "routing-decision"
Action = Literal["drain", "restore"]


@dataclass(frozen=True, slots=True)
class Decision:
    at: float
    region: str
    origin: str
    action: Action
    reason: str
    applied: bool
    error: str | None
    assessment: dict[str, Any]


@dataclass(frozen=True, slots=True)
class PolicySettings:
    drain_probability: float = 0.6
    restore_after: int = 3  # healthy evaluations in a row
    cooldown_seconds: float = 300.0
    propagation_seconds: float = 120.0
    decision_days: int = 30


class RoutingPolicy:
    def __init__(
        self,
        controller: RoutingController,
        store: GrantStore,
        *,
        clock: Callable[[], float],
        settings: PolicySettings | None = None,
        origins: Mapping[str, str] | None = None,
        probe: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        self._controller = controller
        self._store = store
        self._clock = clock
        self._settings = settings or PolicySettings()
        self._origins = dict(origins or {})  # region -> origin name; by default they are equal
        self._decisions = DecisionLog(store, DECISION, clock=clock, days=self._settings.decision_days)
        self._probe = probe  # GETs a /health URL: a drained region must answer before it is restored

    async def apply(self, assessments: Mapping[str, Assessment]) -> list[Decision]:
        decisions: list[Decision] = []
        for region, assessment in sorted(assessments.items()):
            decision = await self._one(region, assessment)
            if decision is not None:
                decisions.append(decision)
        return decisions

    async def _one(self, region: str, assessment: Assessment) -> Decision | None:
        settings, now = self._settings, self._clock()
        state = await self._store.get(STATE, region, now=now) or {
            "drained": False,
            "changed_at": 0.0,
            "healthy": 0,
            "pending_until": 0.0,
            "cooldown": settings.cooldown_seconds,
        }
        cooldown = float(state.get("cooldown", settings.cooldown_seconds))
        risky = assessment.failure_probability >= settings.drain_probability
        state["healthy"] = 0 if risky else int(state["healthy"]) + 1
        # The latest assessment, for the operator page (decisions keep the one they acted on).
        state["assessment"] = {
            "at": now,
            "riskScore": round(assessment.risk_score, 1),
            "failureProbability": round(assessment.failure_probability, 3),
            "failureType": assessment.failure_type,
            "timeToFailureSeconds": assessment.time_to_failure_s,
            "model": assessment.model,
        }
        decision: Decision | None = None
        if now < float(state["pending_until"]):
            pass  # a change is still reaching every Front Door edge: decide nothing yet
        elif not state["drained"] and risky:
            reason = (
                f"{assessment.model}: failure probability {assessment.failure_probability:.2f} ≥ "
                f"{settings.drain_probability:.2f} ({assessment.failure_type})"
            )
            decision = await self._change(region, "drain", reason, assessment, state)
        elif (
            state["drained"]
            and state["healthy"] >= settings.restore_after
            and now - float(state["changed_at"]) >= cooldown
        ):
            if await self._answers(region):
                reason = f"healthy for {state['healthy']} evaluations, past the cooldown, and its /health answers"
                decision = await self._change(region, "restore", reason, assessment, state)
            else:
                state["healthy"] = 0  # no evidence yet: start counting again
        await self._store.put(STATE, region, state, expires_at=None)
        return decision

    async def _change(
        self, region: str, action: Action, reason: str, assessment: Assessment, state: dict[str, Any]
    ) -> Decision:
        now = self._clock()
        origin = self._origins.get(region, region)
        error: str | None = None
        try:
            await self._controller.update(origin, enabled=action == "restore")
            if action == "drain":
                # Drained again soon after a restore: it was not healthy yet; wait twice as long next time.
                cooldown = float(state.get("cooldown", self._settings.cooldown_seconds))
                flapped = now - float(state["changed_at"]) < 2 * cooldown
                base = self._settings.cooldown_seconds
                state["cooldown"] = min(cooldown * 2, base * 16) if flapped else base
            state.update(
                drained=action == "drain", changed_at=now, pending_until=now + self._settings.propagation_seconds
            )
        except RoutingError as refused:
            error = str(refused)
        decision = Decision(now, region, origin, action, reason, error is None, error, asdict(assessment))
        await self._decisions.add(asdict(decision), at=now)
        audit("routing." + action, region=region, origin=origin, applied=error is None, reason=reason, error=error)
        return decision

    async def _answers(self, region: str) -> bool:
        if self._probe is None:
            return True
        name = self._origins.get(region, region)
        origin = next((o for o in await self._controller.origins() if o.name == name), None)
        url = self._controller.health_url(origin) if origin is not None else None
        return url is None or await self._probe(url)

    async def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest decisions, newest first (the routing API shows these)."""
        return await self._decisions.recent(limit)

    async def states(self) -> dict[str, dict[str, Any]]:
        return dict(await self._store.items(STATE, now=self._clock()))
