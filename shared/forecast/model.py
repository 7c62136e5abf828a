"""Forecasting the next 24 hours of 5-minute request counts from at least two weeks of history.

Features of each future slot: time of day (as a slot and as sine/cosine), day of week, and what
happened at the same slot 1, 2, 7 and 14 days before, plus the mean of that slot over the last
weeks. A HistGradientBoostingRegressor (scikit-learn, imported only here) learns the rest. The
baseline to beat is seasonal-naive: the same slot one week earlier.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from shared.forecast.traffic import SLOTS_PER_DAY

WEEK = 7 * SLOTS_PER_DAY
MIN_HISTORY = 2 * WEEK


def _features(history: Sequence[float], index: int, start_weekday: int) -> list[float]:
    """Features of slot `index` (which may lie up to a day past the end of `history`)."""
    slot = index % SLOTS_PER_DAY
    day = index // SLOTS_PER_DAY
    weekday = (start_weekday + day) % 7
    angle = 2 * math.pi * slot / SLOTS_PER_DAY

    def back(days: int) -> float:
        at = index - days * SLOTS_PER_DAY
        return history[at] if 0 <= at < len(history) else 0.0

    same_slot = [back(7 * w) for w in (1, 2, 3) if index - 7 * w * SLOTS_PER_DAY >= 0]
    return [
        slot,
        math.sin(angle),
        math.cos(angle),
        weekday,
        1.0 if weekday >= 5 else 0.0,
        back(1),
        back(2),
        back(7),
        back(14),
        sum(same_slot) / len(same_slot) if same_slot else 0.0,
    ]


class LoadForecaster:
    def __init__(self, *, seed: int = 7) -> None:
        self._seed = seed
        self._model: Any = None
        self._start_weekday = 0

    def fit(self, history: Sequence[float], *, start_weekday: int = 0) -> LoadForecaster:
        """Learn from `history` (5-minute counts; slot 0 is 00:00 UTC of weekday `start_weekday`)."""
        if len(history) < MIN_HISTORY + SLOTS_PER_DAY:
            raise ValueError(f"need at least {(MIN_HISTORY + SLOTS_PER_DAY) // SLOTS_PER_DAY} days of history")
        import numpy as np
        from sklearn.ensemble import HistGradientBoostingRegressor  # pyright: ignore[reportMissingTypeStubs] - heavy: imported on first use only

        self._start_weekday = start_weekday
        rows = [_features(history, i, start_weekday) for i in range(MIN_HISTORY, len(history))]
        targets = [math.log1p(history[i]) for i in range(MIN_HISTORY, len(history))]
        regressor: Any = HistGradientBoostingRegressor
        model: Any = regressor(max_iter=300, learning_rate=0.08, categorical_features=[3], random_state=self._seed)
        model.fit(np.asarray(rows), np.asarray(targets))
        self._model = model
        return self

    def predict_next_day(self, history: Sequence[float]) -> list[float]:
        """The 288 slots after the end of `history` (which continues the history it was fitted on)."""
        if self._model is None:
            raise RuntimeError("fit the forecaster first")
        start = len(history)
        import numpy as np

        rows = [_features(history, start + i, self._start_weekday) for i in range(SLOTS_PER_DAY)]
        return [max(0.0, math.expm1(float(v))) for v in self._model.predict(np.asarray(rows))]


def seasonal_naive(history: Sequence[float]) -> list[float]:
    """The baseline: the next day repeats the same day one week earlier."""
    start = len(history) - WEEK
    return list(history[start : start + SLOTS_PER_DAY])


def mape(actual: Sequence[float], predicted: Sequence[float], *, floor: float = 1.0) -> float:
    """Mean absolute percentage error over slots with at least `floor` requests."""
    pairs = [(a, p) for a, p in zip(actual, predicted, strict=True) if a >= floor]
    return sum(abs(a - p) / a for a, p in pairs) / len(pairs) if pairs else 0.0
