"""`make eval-risk`: the learned risk model against the threshold baseline on held-out incidents.

Both see the same held-out timelines (a different seed from training), minute by minute; a
warning is a probability at or over the routing policy's drain threshold. Printed per model:
precision, recall (warned before the outage and no more than twice the horizon early), lead time
in minutes, false alarms, recall per failure kind, and the learned model's cost per assessment.
"""

from __future__ import annotations

import argparse
import sys
import time

from shared.health.evaluation import Score, evaluate
from shared.health.incidents import Timeline, timelines
from shared.health.learned import LearnedRiskModel
from shared.health.risk import ThresholdModel


def run(*, train: int, held_out: int, seed: int, threshold: float = 0.6) -> list[Score]:
    learned = LearnedRiskModel(training_timelines=train)
    started = time.perf_counter()
    learned.probabilities(timelines(seed + 1, 1)[0].windows)  # builds (trains) the model
    trained_in = time.perf_counter() - started
    data = timelines(seed, held_out)
    baseline = ThresholdModel()

    def baseline_series(item: Timeline) -> list[float]:
        return [baseline.assess("r", item.windows[: t + 1]).failure_probability for t in range(len(item.windows))]

    limit = 2 * learned.horizon
    scores = [
        evaluate("threshold", data, baseline_series, threshold=threshold, early_limit=limit),
        evaluate(
            "learned", data, lambda item: learned.probabilities(item.windows), threshold=threshold, early_limit=limit
        ),
    ]
    history = data[0].windows[:30]
    started = time.perf_counter()
    for _ in range(200):
        learned.assess("r", history)
    per_assessment = (time.perf_counter() - started) / 200 * 1000
    lines = [
        f"trained on {train} timelines in {trained_in:.1f} s; held out: {held_out} timelines (seed {seed})",
        f"{'model':<10} {'precision':>9} {'recall':>7} {'lead mean':>10} {'lead median':>12} "
        f"{'false alarms':>13}  recall by kind",
    ]
    for s in scores:
        kinds = ", ".join(f"{k} {v:.2f}" for k, v in s.per_kind.items())
        lines.append(
            f"{s.model:<10} {s.precision:>9.2f} {s.recall:>7.2f} {s.lead_minutes_mean:>9.1f}m "
            f"{s.lead_minutes_median:>11.1f}m {s.false_alarms:>13}  {kinds}"
        )
    lines.append(f"learned model: {per_assessment:.2f} ms per assessment")
    sys.stdout.write("\n".join(lines) + "\n")
    return scores


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train", type=int, default=400, help="training timelines")
    parser.add_argument("--held-out", type=int, default=300, help="evaluation timelines")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    run(train=args.train, held_out=args.held_out, seed=args.seed)


if __name__ == "__main__":
    main()
