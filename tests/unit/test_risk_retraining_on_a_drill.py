"""Retraining on a recorded drill: the health samples two real `make drill --short --no-controller` runs wrote
(two regions, region A degrading then failing with callers on it), recorded with `--record`, kept in
`tests/fixtures/recorded-drills.json` (the second moved an hour later). The first drill is what the
candidate learns from; the second is held back, and both models are scored on it (`make eval-retrain`
prints the same)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.health.recorder import Sample
from shared.health.retraining import RiskRetrainer, recorded_timelines, split
from shared.health.risk import windows
from shared.health.samples import MemorySampleStore
from shared.identity.grants import MemoryGrantStore

pytestmark = pytest.mark.anyio
RECORDED = json.loads((Path(__file__).parent.parent / "fixtures" / "recorded-drills.json").read_text())
WIDTH = 2.0  # the drill's MCPHUB_ROUTING__WINDOW_SECONDS


def drills() -> tuple[list[Sample], float]:
    """The samples, and when the second drill began."""
    samples = [Sample(**s) for drill in RECORDED["drills"] for s in drill]
    return samples, min(s["window_start"] for s in RECORDED["drills"][1])


async def test_a_recorded_drill_is_cut_into_timelines_with_region_a_failing_once_in_each_drill() -> None:
    samples, second = drills()
    cut = recorded_timelines(windows(samples, WIDTH), WIDTH)
    failing = [t for t in cut if t.outage_at is not None]
    assert len(failing) == 2
    assert {t.windows[0].region for t in failing} == {"a"}
    assert sum(t.windows[0].start >= second - WIDTH for t in failing) == 1


async def test_retraining_on_the_first_drill_is_scored_on_the_second_and_the_decision_recorded() -> None:
    samples, second = drills()
    store, grants = MemorySampleStore(), MemoryGrantStore()
    await store.add(samples)
    end = max(s.window_end for s in samples)
    start = min(s.window_start for s in samples)
    held_back = (end - second) / (end - start) + 0.01
    earlier, later = split(recorded_timelines(windows(samples, WIDTH), WIDTH), held_back)
    assert all(t.windows[0].start < second for t in earlier)
    assert all(t.windows[0].start >= second - WIDTH for t in later)
    retrainer = RiskRetrainer(
        store, grants, clock=lambda: end + 1, days=1, held_back=held_back, width=WIDTH, in_process=True
    )
    decision = await retrainer.run()
    assert decision["heldBackOutages"] == 1
    current, candidate = decision["scores"]["current"], decision["scores"]["candidate"]
    assert current["outages"] == candidate["outages"] == 1
    better = (
        candidate["average_precision"] > current["average_precision"]
        and candidate["false_drains"] <= current["false_drains"]
    )
    assert decision["accepted"] == better
    assert (await retrainer.current()).since == (decision["candidate"]["since"] if better else None)
    assert await retrainer.recent() == [decision]
