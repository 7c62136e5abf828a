"""Retrain the risk model from what the hub recorded, and use it only if it does better.

The recorded data: every region's health samples (`SampleStore`), folded into windows as the health
timer folds them, for the last `days`. They are cut into timelines at gaps (a drained region
records nothing) and after each outage; each window is labelled by whether an outage (the same
definition as the generator's: error rate ≥ 20 % or p95 ≥ 5 s) began within `horizon` windows
after it. The recorded incidents carry no kind, so only the "will it fail" classifier learns from
them; which kind it is stays learned from the generator.

The decision, once a day (`RiskRetrainer.run`):
- the recorded timelines are split by time: those starting in the latest `held_back` share of the
  recorded time are held back;
- the **candidate** is trained on the synthetic set (the floor: what the generator teaches is kept)
  plus the earlier recorded timelines, weighted so that they count for about half as much as the
  synthetic set in all;
- the **current** model is the one in use (the last accepted recipe, or the synthetic set alone);
- both are scored on the held-back timelines: average precision of the per-window failure
  probability (outage windows left out, as in training), outages caught at the drain threshold
  before they began, and false drains (timelines without an outage that crossed the threshold);
- the candidate is used only if its average precision is higher and it has no more false drains;
  with no incident in the held-back part nothing can be compared, and the current model stays.
The decision and both scores are recorded (`GrantStore`, kind "risk-retraining", 90 days); an
accepted candidate's recipe (the recorded range and seeds) becomes the current one (kind
"risk-model"), and every instance's `LearnedRiskModel` trains that same recipe (deterministic)
when it next prepares.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from shared.audit.events import audit
from shared.health.incidents import Timeline, is_outage, timelines
from shared.health.learned import LearnedRiskModel, training_set
from shared.health.risk import RegionWindow, windows
from shared.health.samples import SampleStore
from shared.identity.decision_log import DecisionLog
from shared.identity.grants import GrantStore

log = logging.getLogger(__name__)

DECISION = "risk-retraining"
RECIPE = "risk-model"
RECIPE_KEY = "current"
DRAIN_PROBABILITY = 0.6


@dataclass(frozen=True, slots=True)
class Recipe:
    """What a model is trained on: the synthetic set, plus recorded windows of [since, until)."""

    seed: int = 7
    synthetic: int = 400
    horizon: int = 10
    since: float | None = None
    until: float | None = None
    width: float = 60.0


@dataclass(frozen=True, slots=True)
class Scores:
    average_precision: float
    outages: int
    caught: int
    healthy_timelines: int
    false_drains: int
    windows: int


async def recorded_windows(
    store: SampleStore, since: float, until: float, width: float
) -> dict[str, list[RegionWindow]]:
    """Every region's windows of [since, until), read an hour at a time (memory stays one hour of
    samples, whatever the range)."""
    folded: dict[str, list[RegionWindow]] = {}
    start = since
    while start < until:
        end = min(until, (start // 3600 + 1) * 3600)
        for region, found in windows(await store.window(start, end), width).items():
            folded.setdefault(region, []).extend(found)
        start = end
    return folded


def recorded_timelines(by_region: Mapping[str, Sequence[RegionWindow]], width: float) -> list[Timeline]:
    """Each region's windows cut at gaps longer than two windows and after each outage ends;
    a timeline's `outage_at` is its first outage window. Oldest first."""
    found: list[Timeline] = []
    for region_windows in by_region.values():
        current: list[RegionWindow] = []
        outage_at: int | None = None

        def close() -> None:
            nonlocal current, outage_at
            if current:
                found.append(Timeline(current, "none", outage_at))
            current, outage_at = [], None

        for window in sorted(region_windows, key=lambda w: w.start):
            if current and window.start - current[-1].end > 2 * width:
                close()
            if outage_at is not None and not is_outage(window):
                close()  # the outage is over: what follows is a new timeline
            if is_outage(window) and outage_at is None:
                outage_at = len(current)
            current.append(window)
        close()
    return sorted(found, key=lambda t: t.windows[0].start)


def split(recorded: Sequence[Timeline], held_back: float) -> tuple[list[Timeline], list[Timeline]]:
    """(earlier, held back): held back are the timelines that start in the latest `held_back` share
    of the recorded time."""
    if not recorded:
        return [], []
    first, last = recorded[0].windows[0].start, max(t.windows[-1].end for t in recorded)
    cut = first + (1 - held_back) * (last - first)
    return [t for t in recorded if t.windows[0].start < cut], [t for t in recorded if t.windows[0].start >= cut]


def _rows(data: Sequence[Timeline], horizon: int) -> tuple[list[list[float]], list[int]]:
    rows, labels, _ = training_set(data, horizon)
    return rows, labels


def train_failing(recipe: Recipe, recorded: Sequence[Timeline]) -> Any:
    """The "will it fail" classifier of `recipe`: synthetic timelines plus `recorded` (weighted)."""
    from sklearn.ensemble import HistGradientBoostingClassifier  # pyright: ignore[reportMissingTypeStubs] - heavy: imported on first use only

    rows, labels = _rows(timelines(recipe.seed, recipe.synthetic), recipe.horizon)
    weights = [1.0] * len(rows)
    extra_rows, extra_labels = _rows(recorded, recipe.horizon)
    if extra_rows:
        weight = max(1.0, min(20.0, 0.5 * len(rows) / len(extra_rows)))
        rows, labels = rows + extra_rows, labels + extra_labels
        weights += [weight] * len(extra_rows)
    model: Any = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.1, random_state=recipe.seed)
    model.fit(rows, labels, sample_weight=weights)
    return model


def score(model: Any, held_back: Sequence[Timeline], horizon: int) -> Scores | None:
    """None when the held-back part has no window before an outage to be scored on."""
    from sklearn.metrics import average_precision_score  # pyright: ignore[reportMissingTypeStubs, reportUnknownVariableType] - heavy: imported on first use only

    rows, labels = _rows(held_back, horizon)
    if not rows or not any(labels):
        return None
    probabilities = [float(p[1]) for p in model.predict_proba(rows)]
    outages = caught = healthy = false_drains = 0
    at = 0
    for item in held_back:
        end = item.outage_at if item.outage_at is not None else len(item.windows)
        crossed = any(p >= DRAIN_PROBABILITY for p in probabilities[at : at + end])
        at += end
        if item.outage_at is not None:
            outages += 1
            caught += crossed
        else:
            healthy += 1
            false_drains += crossed
    # sklearn ships no type stubs: its return type is unknown to pyright.
    precision = float(average_precision_score(labels, probabilities))  # pyright: ignore[reportUnknownArgumentType] - no stubs
    return Scores(round(precision, 4), outages, caught, healthy, false_drains, len(rows))


def compare(
    current: Recipe,
    current_recorded: Sequence[Timeline],
    candidate: Recipe,
    earlier: Sequence[Timeline],
    held_back: Sequence[Timeline],
) -> tuple[Scores | None, Scores | None, Any]:
    """Train both, score both on `held_back` (run in a worker process: it holds the CPU for seconds)."""
    current_model = train_failing(current, current_recorded)
    candidate_model = train_failing(candidate, earlier)
    return (
        score(current_model, held_back, current.horizon),
        score(candidate_model, held_back, candidate.horizon),
        candidate_model,
    )


class RiskRetrainer:
    def __init__(
        self,
        samples: SampleStore,
        store: GrantStore,
        *,
        clock: Callable[[], float],
        days: float = 28.0,
        held_back: float = 0.3,
        width: float = 60.0,
        horizon: int = 10,
        synthetic: int = 400,
        in_process: bool = False,
    ) -> None:
        self._synthetic = synthetic
        self._decisions = DecisionLog(store, DECISION, clock=clock, days=90)
        self._samples = samples
        self._store = store
        self._clock = clock
        self._days = days
        self._held_back = held_back
        self._width = width
        self._horizon = horizon
        self.in_process = in_process  # tests and `make` targets: no worker process
        self.samples = samples

    async def current(self) -> Recipe:
        value = await self._store.get(RECIPE, RECIPE_KEY, now=self._clock())
        return Recipe(**value) if value else Recipe(synthetic=self._synthetic, horizon=self._horizon, width=self._width)

    async def run(self) -> dict[str, Any]:
        now = self._clock()
        since = now - self._days * 86400
        recorded = recorded_timelines(await recorded_windows(self._samples, since, now, self._width), self._width)
        earlier, held_back = split(recorded, self._held_back)
        current = await self.current()
        candidate = Recipe(
            seed=current.seed,
            synthetic=current.synthetic,
            horizon=self._horizon,
            since=since,
            until=held_back[0].windows[0].start if held_back else now,
            width=self._width,
        )
        # The current model's own recorded part: what of its range is still recorded, never the
        # held-back part (it must be scored on what neither model saw).
        current_recorded = [
            t
            for t in earlier
            if current.since is not None
            and current.until is not None
            and current.since <= t.windows[0].start < current.until
        ]
        decision: dict[str, Any] = {
            "at": now,
            "since": since,
            "until": now,
            "recordedTimelines": len(recorded),
            "heldBackTimelines": len(held_back),
            "heldBackOutages": sum(t.outage_at is not None for t in held_back),
            "current": asdict(current),
            "candidate": asdict(candidate),
        }
        if not held_back or not any(t.outage_at is not None for t in held_back):
            decision.update(accepted=False, reason="no incident in the held-back part: nothing to compare on")
            return await self._record(decision)
        args = (current, current_recorded, candidate, earlier, held_back)
        if self.in_process:
            current_score, candidate_score, _ = compare(*args)
        else:
            loop = asyncio.get_running_loop()
            with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
                current_score, candidate_score, _ = await loop.run_in_executor(pool, compare, *args)
        decision["scores"] = {
            "current": asdict(current_score) if current_score else None,
            "candidate": asdict(candidate_score) if candidate_score else None,
        }
        if current_score is None or candidate_score is None:
            decision.update(accepted=False, reason="the held-back part has no window before an outage to score")
        elif (
            candidate_score.average_precision > current_score.average_precision
            and candidate_score.false_drains <= current_score.false_drains
        ):
            decision.update(
                accepted=True,
                reason=f"average precision {candidate_score.average_precision:.3f} > "
                f"{current_score.average_precision:.3f}, false drains {candidate_score.false_drains} ≤ "
                f"{current_score.false_drains}",
            )
            await self._store.put(RECIPE, RECIPE_KEY, asdict(candidate), expires_at=None)
        else:
            decision.update(
                accepted=False,
                reason=f"not better on the held-back part: average precision {candidate_score.average_precision:.3f}"
                f" vs {current_score.average_precision:.3f}, false drains {candidate_score.false_drains} vs "
                f"{current_score.false_drains}",
            )
        return await self._record(decision)

    async def _record(self, decision: dict[str, Any]) -> dict[str, Any]:
        now = self._clock()
        await self._decisions.add(decision, at=now)
        audit("risk.retrained", accepted=decision["accepted"], reason=decision["reason"])
        log.info("risk model retraining: %s", decision["reason"])
        return decision

    async def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        return await self._decisions.recent(limit)


class RetrainedRiskModel(LearnedRiskModel):
    """The learned model, trained on the current recipe once one was accepted: until then (and while
    an accepted recipe trains, in a worker process) it answers as the synthetic-only model."""

    def __init__(
        self, retrainer: RiskRetrainer, *, horizon: int = 10, seed: int = 7, training_timelines: int = 400
    ) -> None:
        super().__init__(horizon=horizon, seed=seed, training_timelines=training_timelines)
        self._retrainer = retrainer
        self._recipe: Recipe | None = None
        self._adopting: asyncio.Task[None] | None = None

    async def settle(self) -> None:
        """Wait for a recipe being trained to be in use (tests, `make` targets)."""
        if self._adopting is not None:
            await self._adopting

    @property
    def recipe(self) -> Recipe | None:
        """The accepted recipe this model answers with (None: the synthetic set alone)."""
        return self._recipe

    async def prepare(self) -> None:
        await super().prepare()
        recipe = await self._retrainer.current()
        if recipe.since is None or recipe == self._recipe:
            return
        if self._adopting is None or self._adopting.done():
            self._adopting = asyncio.ensure_future(self._adopt(recipe))

    async def _adopt(self, recipe: Recipe) -> None:
        assert recipe.since is not None
        assert recipe.until is not None
        recorded = recorded_timelines(
            await recorded_windows(self._retrainer.samples, recipe.since, recipe.until, recipe.width), recipe.width
        )
        if self._retrainer.in_process:
            failing = train_failing(recipe, recorded)
        else:
            loop = asyncio.get_running_loop()
            with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
                failing = await loop.run_in_executor(pool, train_failing, recipe, recorded)
        if self._training is not None:
            await self._training  # the kind classifier still comes from the synthetic set
        _, kind = self._build()
        with self._lock:
            self._models = (failing, kind)
            self._recipe = recipe
            self.name = "learned+recorded"
        log.info("risk model: now trained with the recorded windows of %s..%s", recipe.since, recipe.until)
