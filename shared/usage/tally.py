"""One aggregate: calls, errors, outcomes and a latency histogram; counted, stored, merged."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from shared.call_record import CallRecord, PluginEvent
from shared.usage.histogram import Histogram, bucket

# Outcomes that are answers, not failures of the hub or the upstream (a tool may report an error;
# a plugin refusing a call is the hub's policy at work).
_ANSWERED = ("ok", "tool_error", "refused")
# Refused before reaching the upstream: no latency (a plugin's refusal after the answer has one).
_UNTIMED = ("rate_limited", "refused")


@dataclass(frozen=True, slots=True)
class Counted:
    """What every aggregate a call lands in counts of it, worked out once per call."""

    outcome: str
    failed: bool
    ms: float
    bucket: int | None  # None: refused before reaching the upstream, so no latency

    @classmethod
    def of(cls, record: CallRecord) -> Counted:
        ms = record.seconds * 1000
        timed = record.outcome not in _UNTIMED or record.seconds > 0
        return cls(record.outcome, record.outcome not in _ANSWERED, ms, bucket(ms) if timed else None)

    @classmethod
    def plugin(cls, event: PluginEvent) -> Counted:
        """A plugin's refusal, failure or change: counted, never timed."""
        return cls(event.outcome, event.outcome in ("timeout", "failed"), 0.0, None)


@dataclass(slots=True)
class Tally:
    count: int = 0
    errors: int = 0
    outcomes: dict[str, int] = field(default_factory=dict[str, int])
    latency: Histogram = field(default_factory=Histogram)
    sum_ms: float = 0.0
    max_ms: float = 0.0

    def add(self, record: CallRecord) -> None:
        self.count_call(Counted.of(record))

    def count_call(self, call: Counted) -> None:
        self.count += 1
        self.errors += call.failed
        self.outcomes[call.outcome] = self.outcomes.get(call.outcome, 0) + 1
        if call.bucket is not None:
            counts = self.latency.counts
            counts[call.bucket] = counts.get(call.bucket, 0) + 1
            self.sum_ms += call.ms
            if call.ms > self.max_ms:
                self.max_ms = call.ms

    def fields(self) -> dict[str, Any]:
        """As the properties of a stored row."""
        return {
            "Count": self.count,
            "Errors": self.errors,
            "Outcomes": json.dumps(self.outcomes, sort_keys=True),
            "Latency": json.dumps(self.latency.to_wire()),
            "SumMs": round(self.sum_ms, 3),
            "MaxMs": round(self.max_ms, 3),
        }

    def merge_row(self, row: dict[str, Any]) -> None:
        self.count += int(row["Count"])
        self.errors += int(row["Errors"])
        for outcome, n in json.loads(row.get("Outcomes") or "{}").items():
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + int(n)
        self.latency.merge(Histogram.from_wire(json.loads(row.get("Latency") or "{}")))
        self.sum_ms += float(row.get("SumMs") or 0)
        self.max_ms = max(self.max_ms, float(row.get("MaxMs") or 0))

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.count,
            "errors": self.errors,
            "errorRate": round(self.errors / self.count, 4) if self.count else 0.0,
            "p50Ms": self.latency.quantile(0.50),
            "p95Ms": self.latency.quantile(0.95),
            "p99Ms": self.latency.quantile(0.99),
            "maxMs": round(self.max_ms, 3),
            "outcomes": dict(sorted(self.outcomes.items())),
        }
