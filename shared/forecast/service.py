"""Forecasts of each region's load from the usage aggregates: read, fitted and answered once a day
per region (the answer uses whole past days only), then served from memory until midnight UTC."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from shared.forecast.capacity import CapacitySettings, recommend
from shared.forecast.model import MIN_HISTORY, LoadForecaster
from shared.forecast.traffic import SLOT_SECONDS, SLOTS_PER_DAY
from shared.usage.store import UsageStore

HISTORY_DAYS = 28
NEEDED_DAYS = (MIN_HISTORY + SLOTS_PER_DAY) // SLOTS_PER_DAY


async def region_history(store: UsageStore, region: str, *, today: int, days: int) -> list[float]:
    """Requests per 5-minute slot in `region` for the `days` whole days before day `today`
    (days since the epoch, UTC), every instance's counts added up; slots with no row are 0."""
    start = (today - days) * 86400
    series = [0.0] * (days * SLOTS_PER_DAY)
    for row in await store.read("m5", start, today * 86400):
        if row.get("Dimension") != "region" or row.get("Key") != region:
            continue
        slot = (int(str(row["PartitionKey"]).split("-", 1)[1]) - start) // SLOT_SECONDS
        if 0 <= slot < len(series):
            series[slot] += float(row["Count"])
    return series


def _first_active_day(series: list[float]) -> int:
    for index, count in enumerate(series):
        if count > 0:
            return index // SLOTS_PER_DAY
    return len(series) // SLOTS_PER_DAY


class Forecasts:
    def __init__(self, store: UsageStore, settings: CapacitySettings, *, clock: Callable[[], float]) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock
        # Today's answer depends only on whole past days, so it holds until midnight UTC.
        self._answers: dict[tuple[str, int], dict[str, Any]] = {}

    async def next_day(self, region: str) -> dict[str, Any]:
        """Today's 24 hours of `region` from midnight UTC (learned from the whole days before it),
        with the capacity and monthly cost they need."""
        today = int(self._clock() // 86400)
        key = (region, today)
        if key not in self._answers:
            answer = await self._compute(region, today)
            self._answers = {k: v for k, v in self._answers.items() if k[1] == today}
            self._answers[key] = answer
        return self._answers[key]

    async def _compute(self, region: str, today: int) -> dict[str, Any]:
        history = await region_history(self._store, region, today=today, days=HISTORY_DAYS)
        first = _first_active_day(history)
        recorded = HISTORY_DAYS - first
        if recorded < NEEDED_DAYS:
            return {"region": region, "ready": False, "historyDays": recorded, "neededDays": NEEDED_DAYS}
        history = history[first * SLOTS_PER_DAY :]
        start_weekday = datetime.fromtimestamp((today - recorded) * 86400, UTC).weekday()
        # Fitting takes about a second of CPU: off the event loop, once a day per region.
        forecaster = await asyncio.to_thread(LoadForecaster().fit, history, start_weekday=start_weekday)
        forecast = await asyncio.to_thread(forecaster.predict_next_day, history)
        plan = recommend(forecast, self._settings)
        return {
            "region": region,
            "ready": True,
            "historyDays": recorded,
            "stepSeconds": SLOT_SECONDS,
            "points": [
                {
                    "at": _iso(today * 86400 + i * SLOT_SECONDS),
                    "requests": round(v, 1),
                }
                for i, v in enumerate(forecast)
            ],
            "recentPeakRequests": round(max(history[-7 * SLOTS_PER_DAY :]), 1),
            "recommendation": json.loads(json.dumps(asdict(plan))),
        }


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")
