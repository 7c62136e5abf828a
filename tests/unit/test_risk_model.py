"""The learned risk model warns before outages the threshold rule only sees when they happen,
and the hub does not load scikit-learn until the model is used."""

from __future__ import annotations

import subprocess
import sys

from infra.processes import ROOT
from shared.health.evaluation import evaluate
from shared.health.incidents import Timeline, is_outage, timelines
from shared.health.learned import LearnedRiskModel
from shared.health.recorder import Sample
from shared.health.risk import ThresholdModel, windows


def test_the_learned_model_beats_the_threshold_baseline_on_held_out_incidents() -> None:
    learned = LearnedRiskModel(training_timelines=150)
    held_out = timelines(99, 80)
    baseline = ThresholdModel()

    def baseline_series(item: Timeline) -> list[float]:
        return [baseline.assess("r", item.windows[: t + 1]).failure_probability for t in range(len(item.windows))]

    base = evaluate("threshold", held_out, baseline_series, threshold=0.6, early_limit=20)
    model = evaluate(
        "learned", held_out, lambda item: learned.probabilities(item.windows), threshold=0.6, early_limit=20
    )
    assert model.recall > base.recall + 0.3
    assert model.precision > base.precision + 0.3
    assert model.lead_minutes_median >= 2


def test_an_assessment_names_probability_kind_time_to_failure_and_actions() -> None:
    learned = LearnedRiskModel(training_timelines=150)
    incident = next(t for t in timelines(5, 50) if t.kind == "overload" and t.outage_at is not None)
    assert incident.outage_at is not None
    before = learned.assess("weu", incident.windows[: incident.outage_at - 2])
    quiet = learned.assess("weu", incident.windows[:20])
    during = learned.assess("weu", incident.windows[: incident.outage_at + 1])
    assert quiet.failure_probability < 0.3
    assert before.failure_probability >= 0.6
    assert before.failure_type == "overload"
    assert before.time_to_failure_s is not None
    assert before.actions == ["drain weu"]
    assert is_outage(incident.windows[incident.outage_at])
    assert during.failure_probability == 1.0


def test_samples_fold_into_one_window_per_region_and_minute() -> None:
    samples = [
        Sample("weu", "i1", "hub", 0, 30, 100, 5, 0, 0, 10, 90, 100),
        Sample("weu", "i2", "hub", 0, 40, 100, 0, 5, 2, 10, 120, 150),
        Sample("weu", "i1", "up:notes", 0, 30, 50, 5, 5, 0, 10, 90, 100),
        Sample("neu", "i3", "hub", 0, 70, 10, 0, 0, 0, 5, 20, 30),
    ]
    folded = windows(samples, 60)
    [weu] = folded["weu"]
    assert (weu.requests, weu.error_rate, weu.throttle_rate, weu.p95_ms) == (200, 0.05, 0.01, 120)
    assert (weu.upstream_error_rate, weu.upstream_timeout_rate, weu.instances) == (0.2, 0.1, 2)
    assert [w.start for w in folded["neu"]] == [60.0]


def test_importing_the_app_does_not_load_scikit_learn() -> None:
    probe = "import sys, function_app; print('sklearn' in sys.modules)"
    answer = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert answer.stdout.strip() == "False"
