"""One aggregate: calls, errors, outcomes and a latency histogram; counted, stored, merged."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from shared.hub.calls import CallRecord
from shared.usage.histogram import Histogram

# Outcomes that are answers, not failures of the hub or the upstream (a tool may report an error).
_ANSWERED = ("ok", "tool_error")


@dataclass(slots=True)
class Tally:
    count: int = 0
    errors: int = 0
    outcomes: dict[str, int] = field(default_factory=dict[str, int])
    latency: Histogram = field(default_factory=Histogram)
    sum_ms: float = 0.0
    max_ms: float = 0.0

    def add(self, record: CallRecord) -> None:
        ms = record.seconds * 1000
        self.count += 1
        self.errors += record.outcome not in _ANSWERED
        self.outcomes[record.outcome] = self.outcomes.get(record.outcome, 0) + 1
        if record.outcome != "rate_limited":  # refused before reaching the upstream: no latency
            self.latency.add(ms)
            self.sum_ms += ms
            self.max_ms = max(self.max_ms, ms)

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
