"""From a forecast to Flex Consumption settings and a monthly cost estimate.

Prices are settings (MCPHUB_FORECAST__*), with defaults from Azure's Flex Consumption price list as
published in 2025 (USD; check the current list for your region): on-demand execution per GB-s,
always-ready baseline per GB-s, always-ready execution per GB-s, and per million executions.
Throughput per instance comes from `make bench`/`make loadtest` on the instance size chosen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.forecast.traffic import SLOT_SECONDS

SECONDS_PER_MONTH = 30 * 86400


class CapacitySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MCPHUB_FORECAST__", extra="ignore", frozen=True)

    requests_per_second_per_instance: float = Field(default=150.0, gt=0)
    # Wall time of a request, mostly waiting for the upstream: how long it keeps an instance billing.
    mean_request_seconds: float = Field(default=0.25, gt=0)
    target_utilisation: float = Field(default=0.7, gt=0, le=1)
    instance_memory_gb: float = Field(default=2.048, gt=0)
    on_demand_gb_second: float = Field(default=0.000026, ge=0)
    always_ready_baseline_gb_second: float = Field(default=0.000004, ge=0)
    always_ready_execution_gb_second: float = Field(default=0.000016, ge=0)
    per_million_executions: float = Field(default=0.40, ge=0)


@dataclass(frozen=True)
class Recommendation:
    peak_rps: float
    busy_rps: float  # what the busiest quarter of the day needs
    always_ready: int
    maximum_instances: int
    monthly_requests: float
    monthly_cost_usd: float


def recommend(forecast: Sequence[float], settings: CapacitySettings) -> Recommendation:
    """Always-ready instances to carry the busy hours without a cold start, a scale-out cap with
    headroom over the peak, and the month's cost if every day looks like the forecast."""
    rps = sorted(count / SLOT_SECONDS for count in forecast)
    peak = rps[-1]
    busy = rps[int(0.75 * (len(rps) - 1))]
    capacity = settings.requests_per_second_per_instance * settings.target_utilisation
    always_ready = max(1, math.ceil(busy / capacity))
    maximum = max(always_ready, math.ceil(1.5 * peak / capacity))
    gb = settings.instance_memory_gb
    # Flex bills an instance's execution time while at least one request runs on it. With requests
    # arriving at random (rate λ per instance, each lasting d), that is a share 1 - e^(-λd) of the time.
    busy_seconds = 0.0
    for count in forecast:
        rate = count / SLOT_SECONDS
        instances = max(1, math.ceil(rate / capacity))
        busy_seconds += instances * (1 - math.exp(-rate / instances * settings.mean_request_seconds)) * SLOT_SECONDS
    ready_seconds = always_ready * 86400
    on_demand_seconds = max(0.0, busy_seconds - ready_seconds)
    daily_requests = sum(forecast)
    daily = (
        ready_seconds * gb * settings.always_ready_baseline_gb_second
        + min(busy_seconds, ready_seconds) * gb * settings.always_ready_execution_gb_second
        + on_demand_seconds * gb * settings.on_demand_gb_second
        + daily_requests / 1e6 * settings.per_million_executions
    )
    return Recommendation(
        peak_rps=round(peak, 2),
        busy_rps=round(busy, 2),
        always_ready=always_ready,
        maximum_instances=maximum,
        monthly_requests=round(daily_requests * 30),
        monthly_cost_usd=round(daily * 30, 2),
    )


def slot_cost(count: float, always_ready: int, settings: CapacitySettings) -> float:
    """One 5-minute slot's bill in USD, as `recommend` models a day: `always_ready` instances' baseline
    for the slot, and the execution time of `count` requests, on the always-ready instances first (at
    their execution rate), on on-demand instances for the rest."""
    rate = count / SLOT_SECONDS
    capacity = settings.requests_per_second_per_instance * settings.target_utilisation
    instances = max(1, math.ceil(rate / capacity))
    busy = instances * (1 - math.exp(-rate / instances * settings.mean_request_seconds)) * SLOT_SECONDS
    ready = always_ready * SLOT_SECONDS
    gb = settings.instance_memory_gb
    return (
        ready * gb * settings.always_ready_baseline_gb_second
        + min(busy, ready) * gb * settings.always_ready_execution_gb_second
        + max(0.0, busy - ready) * gb * settings.on_demand_gb_second
        + count / 1e6 * settings.per_million_executions
    )
