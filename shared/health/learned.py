"""The learned risk model: gradient-boosted trees over a region's recent windows (scikit-learn,
imported only when the model is first built, so cold starts do not pay for it).

Features per window: the latest error, throttle, timeout and upstream error rates and p95, their
slopes and maxima over the last `lookback` windows, and the change in traffic. Trained on the
incident generator (seeded, so every instance builds the same model) to say whether an outage
begins within `horizon` windows, and which kind; the time to failure is the horizon scaled by
how far the probability has risen.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from typing import Any, cast

from shared.health.incidents import KINDS, Timeline, is_outage, timelines
from shared.health.risk import Assessment, FailureType, RegionWindow, RiskModel, ThresholdModel

LOOKBACK = 6
FEATURES = 17


def features(history: Sequence[RegionWindow]) -> list[float]:
    recent = list(history[-LOOKBACK:])
    while len(recent) < LOOKBACK:
        recent.insert(0, recent[0] if recent else RegionWindow("", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
    last = recent[-1]

    def slope(values: list[float]) -> float:
        n = len(values)
        mean_x, mean_y = (n - 1) / 2, sum(values) / n
        top = sum((i - mean_x) * (v - mean_y) for i, v in enumerate(values))
        return top / sum((i - mean_x) ** 2 for i in range(n))

    errors = [w.error_rate for w in recent]
    p95 = [w.p95_ms / 1000 for w in recent]
    throttles = [w.throttle_rate for w in recent]
    upstream = [w.upstream_error_rate for w in recent]
    timeouts = [w.upstream_timeout_rate for w in recent]
    first_requests = max(recent[0].requests, 1)
    return [
        last.error_rate,
        last.throttle_rate,
        last.p95_ms / 1000,
        last.upstream_error_rate,
        last.upstream_timeout_rate,
        slope(errors),
        slope(p95),
        slope(throttles),
        slope(upstream),
        slope(timeouts),
        max(errors),
        max(p95),
        max(throttles),
        max(upstream),
        max(timeouts),
        last.requests / first_requests,
        float(sum(w.cold_starts for w in recent)),
    ]


def training_set(data: Sequence[Timeline], horizon: int) -> tuple[list[list[float]], list[int], list[str]]:
    """(features, fails within horizon, kind) per window before each outage; outage windows are left
    out: the model is for seeing them coming, and during one the region is drained anyway."""
    rows: list[list[float]] = []
    labels: list[int] = []
    kinds: list[str] = []
    for item in data:
        end = item.outage_at if item.outage_at is not None else len(item.windows)
        for t in range(end):
            rows.append(features(item.windows[: t + 1]))
            soon = item.outage_at is not None and item.outage_at - t <= horizon
            labels.append(int(soon))
            kinds.append(item.kind if soon else "none")
    return rows, labels, kinds


def train(seed: int, count: int, horizon: int) -> tuple[Any, Any]:
    """(will it fail, which kind) classifiers, fitted on `count` generated timelines."""
    from sklearn.ensemble import HistGradientBoostingClassifier  # pyright: ignore[reportMissingTypeStubs] - heavy: imported on first use only

    rows, labels, kinds = training_set(timelines(seed, count), horizon)
    failing: Any = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.1, random_state=seed)
    failing.fit(rows, labels)
    positive = [i for i, label in enumerate(labels) if label]
    kind: Any = HistGradientBoostingClassifier(max_iter=80, random_state=seed)
    kind.fit([rows[i] for i in positive], [kinds[i] for i in positive])
    return failing, kind


class LearnedRiskModel:
    name = "learned"

    def __init__(
        self, *, horizon: int = 10, seed: int = 7, training_timelines: int = 400, fallback: RiskModel | None = None
    ) -> None:
        self.horizon = horizon
        self._seed = seed
        self._count = training_timelines
        self._models: tuple[Any, Any] | None = None
        self._lock = threading.Lock()
        # Training takes seconds to tens of seconds on a busy instance: meanwhile the threshold rule
        # answers, so a cold instance still drains a failing region (and holds no lease idle).
        self._fallback: RiskModel = fallback or ThresholdModel()
        self._training: asyncio.Task[None] | None = None

    def _build(self) -> tuple[Any, Any]:
        with self._lock:
            if self._models is None:
                self._models = train(self._seed, self._count, self.horizon)
            return self._models

    async def prepare(self) -> None:
        """Start training in a separate process, and return at once: generating the data is pure
        Python and would hold the GIL for seconds, stalling the requests this worker serves. Until
        the model is ready, `assess` answers with the fallback rule."""
        if self._models is None and (self._training is None or self._training.done()):
            self._training = asyncio.ensure_future(self._train_elsewhere())

    @property
    def ready(self) -> bool:
        return self._models is not None

    async def _train_elsewhere(self) -> None:
        loop = asyncio.get_running_loop()
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
            models = await loop.run_in_executor(
                pool, _train_as_child, os.getpid(), self._seed, self._count, self.horizon
            )
        with self._lock:
            self._models = self._models or models

    def probabilities(self, windows: Sequence[RegionWindow]) -> list[float]:
        """The failure probability after each window of a timeline, in one batch (evaluation)."""
        failing, _ = self._build()
        rows = [features(windows[: t + 1]) for t in range(len(windows))]
        outage = [is_outage(w) for w in windows]
        predicted = failing.predict_proba(rows)
        return [1.0 if outage[t] else float(predicted[t][1]) for t in range(len(windows))]

    def assess(self, region: str, history: Sequence[RegionWindow]) -> Assessment:
        if self._models is None and self._training is not None:  # prepared, still training
            return replace(self._fallback.assess(region, history), model=f"{self._fallback.name} (learned: training)")
        if not history:
            return Assessment(region, 0.0, 0.0, "none", None, 0.0, [], self.name)
        if is_outage(history[-1]):
            return Assessment(region, 1.0, 100.0, "software", 0.0, 1.0, [f"drain {region}"], self.name)
        failing, kind_model = self._build()
        row = [features(history)]
        probability = float(failing.predict_proba(row)[0][1])
        kind = cast(FailureType, str(kind_model.predict(row)[0])) if probability >= 0.2 else "none"
        if kind not in KINDS:
            kind = "none"
        eta = max(0.0, (1 - probability) * self.horizon * 60) if probability >= 0.2 else None
        actions = [f"drain {region}"] if probability >= 0.6 else ([f"watch {region}"] if probability >= 0.3 else [])
        confidence = abs(probability - 0.5) * 2
        return Assessment(region, probability, round(probability * 100, 1), kind, eta, confidence, actions, self.name)


def _train_as_child(parent: int, seed: int, count: int, horizon: int) -> tuple[Any, Any]:
    """`train` in the pool's worker, which leaves when the hub that started it is gone (killed hosts
    would otherwise leave it blocked forever on a pipe nobody reads)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()
    return train(seed, count, horizon)
