"""NCRONTAB (six fields: second minute hour day month day-of-week), as Functions timers use it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

# second, minute, hour, day, month, day-of-week (7 = Sunday, like 0)
_RANGES = ((0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_NAMES = {
    4: {
        m: i + 1
        for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])
    },
    5: {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])},
}


def _field(text: str, index: int) -> frozenset[int]:
    low, high = _RANGES[index]
    values: set[int] = set()
    for part in text.lower().split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"bad step in {part!r}")
        if body == "*":
            start, end = low, high
        else:
            first, _, last = body.partition("-")
            names = _NAMES.get(index, {})
            start = names[first] if first in names else int(first)
            end = (names[last] if last in names else int(last)) if last else (high if step_text else start)
        if not (low <= start <= high and low <= end <= high and start <= end):
            raise ValueError(f"{part!r} is out of range {low}-{high}")
        values.update(range(start, end + 1, step))
    if index == 5 and 7 in values:
        values = (values - {7}) | {0}
    return frozenset(values)


@dataclass(frozen=True)
class Schedule:
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]

    @classmethod
    def parse(cls, expression: str) -> Schedule:
        parts = expression.split()
        if len(parts) != 6:
            raise ValueError(f"NCRONTAB needs 6 fields (second minute hour day month day-of-week): {expression!r}")
        return cls(*(_field(part, i) for i, part in enumerate(parts)))

    def matches(self, when: dt.datetime) -> bool:
        weekday = (when.weekday() + 1) % 7  # Python: Monday=0; cron: Sunday=0
        return (
            when.second in self.seconds
            and when.minute in self.minutes
            and when.hour in self.hours
            and when.day in self.days
            and when.month in self.months
            and weekday in self.weekdays
        )

    def next_after(self, when: dt.datetime) -> dt.datetime:
        candidate = when.replace(microsecond=0) + dt.timedelta(seconds=1)
        limit = candidate + dt.timedelta(days=366 * 4)
        while candidate < limit:
            if candidate.month not in self.months:
                candidate = (candidate.replace(day=1, hour=0, minute=0, second=0) + dt.timedelta(days=32)).replace(
                    day=1
                )
                continue
            if candidate.day not in self.days or (candidate.weekday() + 1) % 7 not in self.weekdays:
                candidate = candidate.replace(hour=0, minute=0, second=0) + dt.timedelta(days=1)
                continue
            if candidate.hour not in self.hours:
                candidate = candidate.replace(minute=0, second=0) + dt.timedelta(hours=1)
                continue
            if candidate.minute not in self.minutes:
                candidate = candidate.replace(second=0) + dt.timedelta(minutes=1)
                continue
            if candidate.second not in self.seconds:
                candidate += dt.timedelta(seconds=1)
                continue
            return candidate
        raise ValueError("schedule never fires")
