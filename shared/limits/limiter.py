"""The rate limiter in front of every upstream request.

Each instance spends budget it took from the shared `BudgetStore` in chunks (a tenth of the limit,
less as the window runs low), and fetches the next chunk in the background before the current one
runs out, so a call rarely waits for Table Storage. Windows are fixed (`seconds` long, aligned to
the epoch), which allows a burst of up to twice the limit across a window boundary.

If the store cannot be reached the limiter fails open for that chunk and logs it: a storage
outage must not take every upstream down with it.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.errors import RateLimited
from shared.limits.budget import BudgetStore, Grant
from shared.limits.rules import LimitRule
from shared.principal import Principal

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Budget:
    window: int
    ends: float
    left: int = 0  # units this instance holds
    shared_left: int | None = None  # what the store had left at the last grant
    spent: bool = False
    refill: asyncio.Future[None] | None = field(default=None)


class RateLimiter:
    def __init__(
        self,
        rules: list[LimitRule],
        store: BudgetStore,
        *,
        clock: Callable[[], float],
        chunk_fraction: float = 0.1,
    ) -> None:
        self.rules = rules
        self._store = store
        self._clock = clock
        self._fraction = chunk_fraction
        self._budgets: dict[str, _Budget] = {}

    async def admit(self, principal: Principal, server: str) -> None:
        """Spend one unit of every rule that applies, or raise RateLimited naming the first that is spent."""
        taken: list[_Budget] = []
        for rule in self.rules:
            if not rule.applies(principal, server):
                continue
            budget = await self._spend(rule, f"{rule.name}|{rule.subject(principal)}")
            if budget is None:
                for other in taken:
                    other.left += 1  # not used after all: give it back to this instance
                now = self._clock()
                retry = math.ceil((math.floor(now / rule.seconds) + 1) * rule.seconds - now)
                raise RateLimited(
                    f"rate limit {rule.name!r} reached: {rule.describe()}; retry after {retry} s",
                    limit=rule.name,
                    retry_after=max(1, retry),
                )
            taken.append(budget)

    async def _spend(self, rule: LimitRule, key: str) -> _Budget | None:
        now = self._clock()
        window = math.floor(now / rule.seconds)
        budget = self._budgets.get(key)
        if budget is None or budget.window != window:
            if len(self._budgets) > 10_000:
                self._budgets = {k: b for k, b in self._budgets.items() if b.ends > now}
            budget = self._budgets[key] = _Budget(window, (window + 1) * rule.seconds)
        while budget.left <= 0:
            if budget.spent:
                return None
            if budget.refill is None:
                budget.refill = asyncio.ensure_future(self._refill(rule, key, budget))
            await asyncio.shield(budget.refill)
        budget.left -= 1
        if budget.left <= self._chunk(rule, budget) // 4 and not budget.spent and budget.refill is None:
            budget.refill = asyncio.ensure_future(self._refill(rule, key, budget))
        return budget

    def _chunk(self, rule: LimitRule, budget: _Budget) -> int:
        chunk = max(1, math.ceil(rule.requests * self._fraction))
        if budget.shared_left is not None:
            # Running low: take less, so little is stranded on an instance its users stopped calling.
            chunk = min(chunk, max(1, budget.shared_left // 2))
        return chunk

    async def _refill(self, rule: LimitRule, key: str, budget: _Budget) -> None:
        try:
            grant = await self._store.take(
                key, budget.window, self._chunk(rule, budget), rule.requests, expires=budget.ends
            )
        except Exception as exc:  # any storage failure: fail open for one chunk rather than refuse everything
            log.warning("rate limit %r: budget store unavailable (%s); admitting a local chunk", rule.name, exc)
            grant = Grant(self._chunk(rule, budget), budget.shared_left or rule.requests)
        finally:
            budget.refill = None
        budget.left += grant.granted
        budget.shared_left = grant.left
        if grant.granted == 0:
            budget.spent = True

    def state(self) -> list[dict[str, object]]:
        """What this instance holds, for the operator page."""
        rows: list[dict[str, object]] = [
            {"budget": key, "window": b.window, "held": b.left, "sharedLeft": b.shared_left, "spent": b.spent}
            for key, b in sorted(self._budgets.items())
        ]
        return rows[:200]
