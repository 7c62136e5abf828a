"""Composition of the operations side: rate limiter, audit trail, usage analytics (part of the root)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from shared.hub.calls import Calls, CallSink
from shared.limits.budget import BudgetStore, MemoryBudgetStore, TableBudgetStore
from shared.limits.limiter import RateLimiter
from shared.limits.rules import load_limits
from shared.operations_settings import OperationsSettings
from shared.settings import HubSettings, ServerSettings


@dataclass(frozen=True)
class Operations:
    settings: OperationsSettings
    budgets: BudgetStore
    limiter: RateLimiter | None
    calls: Calls


def build_operations(
    hub: HubSettings,
    servers: Mapping[str, ServerSettings],
    connection: str | None,
    clock: Callable[[], float],
) -> Operations:
    settings = OperationsSettings()
    rules = load_limits(os.environ, servers)
    budgets: BudgetStore = (
        TableBudgetStore.from_connection_string(connection, settings.limits_table)
        if connection
        else MemoryBudgetStore()
    )
    limiter = RateLimiter(rules, budgets, clock=clock) if rules else None
    sinks: list[CallSink] = []
    calls = Calls(limiter, sinks, region=hub.region, clock=clock)
    return Operations(settings, budgets, limiter, calls)
