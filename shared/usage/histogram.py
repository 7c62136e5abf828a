"""Latency histograms that merge: fixed log-spaced buckets, so instances and windows add up exactly
and percentiles come from the merged counts (to within one bucket, about 10 %)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

_BASE_MS = 0.1
_GROWTH = 1.2
_TOP = 120  # 0.1 ms * 1.2^120 is about 3.2 hours: everything above lands in the last bucket


def bucket(ms: float) -> int:
    if ms <= _BASE_MS:
        return 0
    return min(_TOP, math.ceil(math.log(ms / _BASE_MS, _GROWTH)))


def upper_ms(index: int) -> float:
    return _BASE_MS * _GROWTH**index


class Histogram:
    __slots__ = ("counts",)

    def __init__(self, counts: Mapping[int, int] | None = None) -> None:
        self.counts: dict[int, int] = dict(counts or {})

    def add(self, ms: float) -> None:
        index = bucket(ms)
        self.counts[index] = self.counts.get(index, 0) + 1

    def merge(self, other: Histogram) -> None:
        for index, count in other.counts.items():
            self.counts[index] = self.counts.get(index, 0) + count

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def quantile(self, q: float) -> float | None:
        """The upper bound (ms) of the bucket holding quantile `q`; None when empty."""
        total = self.total
        if total == 0:
            return None
        rank = max(1, math.ceil(q * total))
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= rank:
                return round(upper_ms(index), 3)
        return round(upper_ms(max(self.counts)), 3)

    def to_wire(self) -> dict[str, int]:
        return {str(k): v for k, v in sorted(self.counts.items())}

    @classmethod
    def from_wire(cls, wire: Mapping[str, int]) -> Histogram:
        return cls({int(k): int(v) for k, v in wire.items()})

    @classmethod
    def merged(cls, parts: Iterable[Histogram]) -> Histogram:
        out = cls()
        for part in parts:
            out.merge(part)
        return out
