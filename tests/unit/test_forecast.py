"""Load forecasting: the model beats seasonal-naive on held-out synthetic traffic, and the capacity
recommendation follows the forecast (more traffic, more instances, more cost)."""

from __future__ import annotations

import io
from contextlib import redirect_stdout

import pytest

from infra.eval_forecast import main
from shared.forecast.capacity import SECONDS_PER_MONTH, CapacitySettings, recommend
from shared.forecast.model import LoadForecaster, mape, seasonal_naive
from shared.forecast.service import Forecasts, region_history
from shared.forecast.traffic import SLOTS_PER_DAY, generate
from shared.usage.store import MemoryUsageStore, partition


def test_the_forecaster_beats_seasonal_naive_on_held_out_days() -> None:
    with redirect_stdout(io.StringIO()):
        figures = main(["--weeks", "5", "--held-out", "1", "--seed", "3"])
    assert figures["model_mape"] < figures["naive_mape"]


def test_the_forecaster_needs_two_weeks_and_a_day_of_history() -> None:
    with pytest.raises(ValueError, match="at least 15 days"):
        LoadForecaster().fit(generate(2))


def test_a_forecast_covers_the_next_day_slot_by_slot() -> None:
    series = generate(4, seed=5)
    history = series[: 27 * SLOTS_PER_DAY]
    forecast = LoadForecaster().fit(history).predict_next_day(history)
    actual = series[27 * SLOTS_PER_DAY : 28 * SLOTS_PER_DAY]
    assert len(forecast) == SLOTS_PER_DAY
    assert min(forecast) >= 0
    assert mape(actual, forecast) < mape(actual, seasonal_naive(history)) + 0.05


def test_more_traffic_needs_more_instances_and_costs_more() -> None:
    settings = CapacitySettings(requests_per_second_per_instance=10)
    quiet = recommend([300.0] * SLOTS_PER_DAY, settings)  # 1 req/s all day
    busy = recommend([300.0] * 200 + [30_000.0] * 88, settings)  # 100 req/s for about seven hours
    assert (quiet.always_ready, quiet.maximum_instances) == (1, 1)
    assert busy.peak_rps == 100.0
    assert busy.maximum_instances == 22  # 1.5 x 100 req/s over 7 usable req/s per instance
    assert busy.monthly_cost_usd > quiet.monthly_cost_usd
    assert busy.monthly_requests == ((300 * 200 + 30_000 * 88) * 30)


def region_rows(series: list[float], start_day: int, writer: str) -> list[dict[str, object]]:
    """5-minute region rows as the usage meter writes them."""
    rows: list[dict[str, object]] = []
    for slot, count in enumerate(series):
        start = start_day * 86400 + slot * 300
        rows.append(
            {
                "PartitionKey": partition("m5", start),
                "RowKey": f"region|weu|{writer}",
                "Dimension": "region",
                "Key": "weu",
                "Count": count,
            }
        )
    return rows


@pytest.mark.anyio
async def test_a_region_with_three_weeks_of_usage_gets_todays_forecast_and_a_plan() -> None:
    today = 20_400  # a day number (days since the epoch)
    series = generate(3, seed=9)
    store = MemoryUsageStore()
    half = [float(round(c / 2)) for c in series]
    await store.upsert(region_rows(half, today - 21, "a") + region_rows(half, today - 21, "b"))
    assert sum(await region_history(store, "weu", today=today, days=21)) == 2 * sum(half)
    forecasts = Forecasts(store, CapacitySettings(), clock=lambda: today * 86400 + 3600.0)
    answer = await forecasts.next_day("weu")
    assert answer["ready"]
    assert answer["historyDays"] == 21
    assert len(answer["points"]) == SLOTS_PER_DAY
    assert answer["points"][0]["at"] == "2025-11-08T00:00:00Z"
    assert answer["recommendation"]["always_ready"] >= 1


@pytest.mark.anyio
async def test_a_region_with_too_little_history_is_told_how_much_is_needed() -> None:
    store = MemoryUsageStore()
    await store.upsert(region_rows(generate(1)[: 5 * SLOTS_PER_DAY], 20_395, "a"))
    answer = await Forecasts(store, CapacitySettings(), clock=lambda: 20_400 * 86400.0).next_day("weu")
    assert answer == {"region": "weu", "ready": False, "historyDays": 5, "neededDays": 15}


class CountingStore(MemoryUsageStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def read(self, granularity: str, start: int, end: int) -> list[dict[str, object]]:
        self.reads += 1
        return await super().read(granularity, start, end)


@pytest.mark.anyio
async def test_the_days_forecast_is_read_and_fitted_once_and_again_the_next_day() -> None:
    store = CountingStore()
    await store.upsert(region_rows(generate(3, seed=9), 20_379, "a"))
    now = [20_400 * 86400.0]
    forecasts = Forecasts(store, CapacitySettings(), clock=lambda: now[0])
    first = await forecasts.next_day("weu")
    now[0] += 3600
    assert await forecasts.next_day("weu") == first
    assert store.reads == 1
    now[0] += 86400
    await forecasts.next_day("weu")
    assert store.reads == 2


def test_an_always_ready_instance_bills_execution_only_while_requests_run_on_it() -> None:
    settings = CapacitySettings(mean_request_seconds=0.25)
    day = recommend([300.0] * SLOTS_PER_DAY, settings)  # 1 req/s: busy 1 - e^-0.25 = 22 % of the time
    gb_month = settings.instance_memory_gb * SECONDS_PER_MONTH
    baseline = gb_month * settings.always_ready_baseline_gb_second
    executing = 0.2212 * gb_month * settings.always_ready_execution_gb_second
    executions = 86400 * 30 / 1e6 * settings.per_million_executions
    assert day.monthly_cost_usd == pytest.approx(baseline + executing + executions, rel=0.01)
