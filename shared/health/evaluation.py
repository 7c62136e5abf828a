"""Replaying held-out incidents through a risk model: did it warn before the outage, how early,
and how often did it cry wolf. The same replay scores the threshold baseline."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from shared.health.incidents import Timeline

Probabilities = Callable[[Timeline], list[float]]


@dataclass(frozen=True, slots=True)
class Score:
    model: str
    incidents: int
    predicted: int  # first warning strictly before the outage, within the early limit
    precision: float
    recall: float
    lead_minutes_mean: float
    lead_minutes_median: float
    false_alarms: int  # warnings on quiet timelines, or far too early
    per_kind: dict[str, float] = field(default_factory=dict[str, float])


def evaluate(
    model: str, data: Sequence[Timeline], probabilities: Probabilities, *, threshold: float, early_limit: int
) -> Score:
    predicted = false_alarms = 0
    leads: list[int] = []
    kinds: dict[str, list[bool]] = {}
    for item in data:
        series = probabilities(item)
        first = next((t for t, p in enumerate(series) if p >= threshold), None)
        if item.outage_at is None:
            false_alarms += first is not None
            continue
        lead = item.outage_at - first if first is not None else None
        hit = lead is not None and 0 < lead <= early_limit
        if lead is not None and lead > early_limit:
            false_alarms += 1
        predicted += hit
        kinds.setdefault(item.kind, []).append(hit)
        if hit and lead is not None:
            leads.append(lead)
    incidents = sum(1 for item in data if item.outage_at is not None)
    warnings = predicted + false_alarms
    return Score(
        model=model,
        incidents=incidents,
        predicted=predicted,
        precision=predicted / warnings if warnings else 0.0,
        recall=predicted / incidents if incidents else 0.0,
        lead_minutes_mean=statistics.fmean(leads) if leads else 0.0,
        lead_minutes_median=statistics.median(leads) if leads else 0.0,
        false_alarms=false_alarms,
        per_kind={kind: sum(hits) / len(hits) for kind, hits in sorted(kinds.items())},
    )
