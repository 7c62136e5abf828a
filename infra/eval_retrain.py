"""`make eval-retrain`: the risk model's retraining on recorded drills, with the decision and both scores.

    .venv/bin/python -m infra.eval_retrain [--recorded tests/fixtures/recorded-drills.json]

The recording holds the health samples of two `make drill` runs (`python -m infra.drill --short
--no-controller --record FILE`, combined as {"drills": [[...], [...]]}). The first drill is what the
candidate learns from; the second is held back, and the current model (the synthetic set alone)
and the candidate are both scored on it, as the daily timer scores them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from infra.processes import ROOT
from shared.health.recorder import Sample
from shared.health.retraining import RiskRetrainer
from shared.health.samples import MemorySampleStore
from shared.identity.grants import MemoryGrantStore

WIDTH = 2.0  # the drill's MCPHUB_ROUTING__WINDOW_SECONDS


async def evaluate(recorded: dict[str, Any]) -> dict[str, Any]:
    drills = [[Sample(**s) for s in drill] for drill in recorded["drills"]]
    samples = [s for drill in drills for s in drill]
    store = MemorySampleStore()
    await store.add(samples)
    start, end = min(s.window_start for s in samples), max(s.window_end for s in samples)
    second = min(s.window_start for s in drills[-1])
    held_back = (end - second) / (end - start) + 0.01
    retrainer = RiskRetrainer(
        store, MemoryGrantStore(), clock=lambda: end + 1, days=1, held_back=held_back, width=WIDTH, in_process=True
    )
    return await retrainer.run()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m infra.eval_retrain")
    parser.add_argument("--recorded", type=Path, default=ROOT / "tests" / "fixtures" / "recorded-drills.json")
    args = parser.parse_args(argv)
    recorded = json.loads(args.recorded.read_text())
    decision = asyncio.run(evaluate(recorded))
    out = sys.stdout.write
    out(f"recorded: {recorded.get('source', args.recorded)}\n")
    out(
        f"timelines: {decision['recordedTimelines']} recorded, {decision['heldBackTimelines']} held back "
        f"with {decision['heldBackOutages']} outage(s)\n"
    )
    scores = decision.get("scores") or {}
    out(f"\n{'model':<34}{'avg precision':>14}{'caught':>8}{'false drains':>14}{'windows':>9}\n")
    for name, label in (("current", "current (synthetic set)"), ("candidate", "candidate (+ the first drill)")):
        s = scores.get(name)
        if s:
            out(
                f"{label:<34}{s['average_precision']:>14.3f}{s['caught']:>5}/{s['outages']:<2}"
                f"{s['false_drains']:>11}/{s['healthy_timelines']:<2}{s['windows']:>9}\n"
            )
    out(f"\ndecision: {'accepted' if decision['accepted'] else 'kept the current model'}: {decision['reason']}\n")
    return decision


if __name__ == "__main__":
    main()
