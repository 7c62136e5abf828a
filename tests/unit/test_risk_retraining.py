"""Retraining the risk model from recorded samples: the candidate is used only if it beats the
current model on a held-back part of the recorded data, and the decision is recorded with both scores."""

from __future__ import annotations

import random

import pytest

from shared.health.recorder import Sample
from shared.health.retraining import (
    DECISION,
    RetrainedRiskModel,
    RiskRetrainer,
    recorded_timelines,
    split,
)
from shared.health.risk import windows
from shared.health.samples import MemorySampleStore
from shared.identity.grants import MemoryGrantStore

pytestmark = pytest.mark.anyio
WIDTH = 60.0
NOW = 1_800_000_000.0


def minute(region: str, t: float, *, requests: int, error_rate: float = 0.004, p95: float = 120.0) -> list[Sample]:
    errors = round(requests * error_rate)
    return [
        Sample(region, "i1", "hub", t, t + WIDTH - 1, requests, errors, 0, 0, p95 / 2, p95, p95 * 1.5),
        Sample(region, "i1", "up:notes", t, t + WIDTH - 1, requests, 0, 0, 0, p95 / 2, p95, p95 * 1.5),
    ]


def draining_then_failing(rng: random.Random, region: str, start: float, *, fails: bool) -> list[Sample]:
    """A precursor the generator never makes: callers drift away (requests fall by half over 12
    minutes, nothing else moves), then the region fails. Without `fails`, plain healthy traffic."""
    samples: list[Sample] = []
    volume = rng.uniform(300, 600)
    for t in range(60):
        at = start + t * WIDTH
        if fails and 40 <= t < 52:
            samples += minute(region, at, requests=int(volume * (1 - 0.5 * (t - 39) / 12)))
        elif fails and t >= 52:
            samples += minute(region, at, requests=int(volume * 0.5), error_rate=0.6)
            break
        else:
            samples += minute(region, at, requests=int(rng.gauss(volume, volume * 0.03)))
    return samples


async def recorded(episodes: list[bool], seed: int = 3) -> MemorySampleStore:
    """One timeline per episode, two hours apart, the last ones the most recent."""
    rng = random.Random(seed)
    store = MemorySampleStore()
    start = NOW - len(episodes) * 7200
    for i, fails in enumerate(episodes):
        await store.add(draining_then_failing(rng, "weu", start + i * 7200, fails=fails))
    return store


def test_recorded_windows_are_cut_at_gaps_and_after_each_outage() -> None:
    samples = [s for t in range(10) for s in minute("weu", t * WIDTH, requests=100)]
    samples += [s for t in range(10, 12) for s in minute("weu", t * WIDTH, requests=100, error_rate=0.5)]
    samples += [s for t in range(12, 15) for s in minute("weu", t * WIDTH, requests=100)]
    samples += [s for t in range(30, 33) for s in minute("weu", t * WIDTH, requests=100)]  # after a gap
    cut = recorded_timelines(windows(samples, WIDTH), WIDTH)
    assert [(len(t.windows), t.outage_at) for t in cut] == [(12, 10), (3, None), (3, None)]


def test_the_held_back_part_is_the_latest_share_of_timelines() -> None:
    samples = [s for t in range(0, 200, 40) for s in minute("weu", t * WIDTH, requests=100)]
    cut = recorded_timelines(windows(samples, WIDTH), WIDTH)
    earlier, held_back = split(cut, 0.4)
    assert (len(earlier), len(held_back)) == (3, 2)
    assert held_back[0].windows[0].start > earlier[-1].windows[0].start


async def test_a_candidate_that_learned_a_recorded_precursor_is_used_and_both_scores_are_kept() -> None:
    store, grants = await recorded([True, False] * 7), MemoryGrantStore()
    retrainer = RiskRetrainer(store, grants, clock=lambda: NOW, days=2, held_back=0.3, in_process=True, synthetic=150)
    decision = await retrainer.run()
    current, candidate = decision["scores"]["current"], decision["scores"]["candidate"]
    assert decision["accepted"], decision["reason"]
    assert candidate["average_precision"] > current["average_precision"]
    assert candidate["caught"] > current["caught"]
    assert candidate["false_drains"] <= current["false_drains"]
    assert decision["heldBackOutages"] >= 2
    assert (await retrainer.current()).since == decision["candidate"]["since"]
    assert [d["at"] for d in await retrainer.recent()] == [NOW]
    assert len(await grants.items(DECISION, now=NOW)) == 1


async def test_without_an_incident_in_the_held_back_part_the_current_model_stays() -> None:
    store, grants = await recorded([True, True, False, False, False, False]), MemoryGrantStore()
    retrainer = RiskRetrainer(store, grants, clock=lambda: NOW, days=1, held_back=0.5, in_process=True, synthetic=150)
    decision = await retrainer.run()
    assert not decision["accepted"]
    assert "no incident in the held-back part" in decision["reason"]
    assert (await retrainer.current()).since is None


async def test_the_evaluator_answers_with_the_accepted_recipe_once_it_has_trained_it() -> None:
    store, grants = await recorded([True, False] * 7), MemoryGrantStore()
    retrainer = RiskRetrainer(store, grants, clock=lambda: NOW, days=2, held_back=0.3, in_process=True, synthetic=150)
    assert (await retrainer.run())["accepted"]
    model = RetrainedRiskModel(retrainer, training_timelines=150)
    model._build()  # pyright: ignore[reportPrivateUsage] - the synthetic part, in process for the test
    await model.prepare()
    await model.settle()
    assert model.recipe == await retrainer.current()
    failing = draining_then_failing(random.Random(9), "weu", NOW, fails=True)
    history = windows(failing, WIDTH)["weu"][:51]
    assert model.assess("weu", history).failure_probability >= 0.6
    assert model.name == "learned+recorded"
