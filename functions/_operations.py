"""Composition of the operations side: rate limiter, audit trail, usage analytics (part of the root)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from shared.audit.sources import CallsToTrail, TrailHandler, vault_keys
from shared.audit.store import AuditStore, MemoryAuditStore, TableAuditStore
from shared.audit.trail import AuditTrail
from shared.call_record import CallSink
from shared.closing import Closing
from shared.forecast.capacity import CapacitySettings
from shared.forecast.service import Forecasts
from shared.hub.calls import Calls
from shared.limits.budget import BudgetStore, MemoryBudgetStore, TableBudgetStore
from shared.limits.limiter import RateLimiter
from shared.limits.rules import LimitRule
from shared.operations_settings import OperationsSettings
from shared.sealing import Sealer
from shared.settings import HubSettings
from shared.telemetry import OtelTracer
from shared.usage.meter import UsageMeter
from shared.usage.store import MemoryUsageStore, TableUsageStore, UsageStore


@dataclass(frozen=True)
class Operations:
    settings: OperationsSettings
    budgets: BudgetStore
    limiter: RateLimiter | None
    calls: Calls
    audit: AuditTrail
    usage_store: UsageStore
    usage: UsageMeter
    forecasts: Forecasts


def build_operations(
    hub: HubSettings,
    connection: str | None,
    clock: Callable[[], float],
    sealer: Sealer,
    closing: Closing,
    *,
    settings: OperationsSettings,
    rules: list[LimitRule],
    per_tenant: bool = False,
) -> Operations:
    """`per_tenant`: the hub admits several tenants, so usage is also counted per tenant (the rows
    its tenant-scoped operators read)."""
    budgets: BudgetStore = (
        closing.add(TableBudgetStore.from_connection_string(connection, settings.limits_table))
        if connection
        else MemoryBudgetStore()
    )
    limiter = RateLimiter(rules, budgets, clock=clock) if rules else None
    audit_store: AuditStore = (
        closing.add(TableAuditStore.from_connection_string(connection, settings.audit_table))
        if connection
        else MemoryAuditStore()
    )
    trail = AuditTrail(
        audit_store,
        vault_keys(sealer),
        instance=hub.instance_name,
        region=hub.region,
        clock=clock,
        flush_seconds=settings.audit_flush_seconds,
    )
    audit_log = logging.getLogger("mcphub.audit")
    for old in [h for h in audit_log.handlers if isinstance(h, TrailHandler)]:
        audit_log.removeHandler(old)  # a rebuilt root (tests) replaces, never doubles, the trail
    audit_log.addHandler(TrailHandler(trail))
    usage_store: UsageStore = (
        closing.add(TableUsageStore.from_connection_string(connection, settings.usage_table))
        if connection
        else MemoryUsageStore()
    )
    usage = UsageMeter(
        usage_store,
        instance=hub.instance_name,
        clock=clock,
        flush_seconds=settings.usage_flush_seconds,
        per_tenant=per_tenant,
    )
    sinks: list[CallSink] = [CallsToTrail(trail), usage]
    calls = Calls(limiter, sinks, region=hub.region, clock=clock, tracer=OtelTracer())
    forecasts = Forecasts(usage_store, CapacitySettings(), clock=clock)
    return Operations(settings, budgets, limiter, calls, trail, usage_store, usage, forecasts)
