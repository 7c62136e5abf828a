"""Realistic synthetic traffic for evaluating forecasts: a working-day curve with a lunch dip,
quiet weekends, a slow trend, holidays, bursts (an incident, a launch) and noise. Seeded."""

from __future__ import annotations

import math
import random

SLOT_SECONDS = 300
SLOTS_PER_DAY = 24 * 3600 // SLOT_SECONDS


def daily_shape(slot: int) -> float:
    """0..1: night low, morning ramp, lunch dip, afternoon peak, evening tail (UTC working day)."""
    hour = slot * SLOT_SECONDS / 3600
    morning = math.exp(-(((hour - 10.5) / 2.2) ** 2))
    afternoon = 0.9 * math.exp(-(((hour - 15.0) / 2.0) ** 2))
    lunch = 0.25 * math.exp(-(((hour - 12.5) / 0.6) ** 2))
    return max(0.03, morning + afternoon - lunch)


def generate(weeks: int, *, peak_per_slot: float = 900.0, seed: int = 11) -> list[float]:
    """Requests per 5-minute slot, starting on a Monday at 00:00."""
    rng = random.Random(seed)
    days = weeks * 7
    holidays = {rng.randrange(days) for _ in range(max(1, weeks // 4))}
    series: list[float] = []
    burst_left, burst_size = 0, 0.0
    for day in range(days):
        weekday = day % 7
        level = (0.12 if weekday >= 5 else 1.0) * (0.15 if day in holidays else 1.0)
        trend = 1.0 + 0.004 * day
        for slot in range(SLOTS_PER_DAY):
            if burst_left == 0 and rng.random() < 0.0015:
                burst_left, burst_size = rng.randint(3, 18), rng.uniform(0.5, 2.5)
            burst = burst_size if burst_left > 0 else 0.0
            burst_left = max(0, burst_left - 1)
            mean = peak_per_slot * trend * (level * daily_shape(slot) + 0.02 + burst * daily_shape(slot))
            series.append(max(0.0, rng.gauss(mean, math.sqrt(mean) + 0.04 * mean)))
    return series
