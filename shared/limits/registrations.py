"""How often unauthenticated callers may register OAuth clients, per address and in all."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from shared.limits.budget import BudgetStore


class RegistrationLimiter:
    """Bounds on unauthenticated client registration, shared by every instance (BudgetStore).

    Registration needs no sign-in, so without bounds anyone could fill the client table: each
    address may attempt `per_hour` an hour and `per_day` a day, and everyone together `overall_per_day`.
    Registrations that are never used expire (ClientRegistry), so the live count stays bounded too.
    """

    def __init__(
        self,
        budgets: BudgetStore,
        *,
        per_hour: int = 20,
        per_day: int = 100,
        overall_per_day: int = 10_000,
        clock: Callable[[], float],
    ) -> None:
        self._budgets = budgets
        self._windows = ((f"h|{per_hour}", 3600, per_hour), (f"d|{per_day}", 86400, per_day))
        self._overall = overall_per_day
        self._clock = clock

    async def retry_after(self, caller: str) -> int:
        """0 when `caller` (an address) may register now (and counts it), else seconds to wait."""
        now = self._clock()
        subject = hashlib.sha256(caller.encode()).hexdigest()[:32]
        checks = [(f"register|{name}|{subject}", seconds, cap) for name, seconds, cap in self._windows]
        checks.append((f"register|all|{self._overall}", 86400, self._overall))
        for key, seconds, cap in checks:
            window = int(now // seconds)
            grant = await self._budgets.take(key, window, 1, cap, expires=(window + 1) * seconds + 60)
            if grant.granted == 0:
                return max(1, int((window + 1) * seconds - now) + 1)
        return 0
