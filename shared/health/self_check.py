"""An instance that is failing its own callers says so on `/health` at once, not at the next timer.

The routing controller drains a region from samples that the timer evaluates every minute (in
Azure), and Front Door only sees `/health`. Before this check, `/health` stayed 200 whenever the
session store answered, even while the instance answered most MCP requests with 5xx (a bad
deploy, an exhausted pool, a network fault on its side). Now `/health` turns 503 as soon as the
instance's own recent requests meet the outage definition that the risk model is trained on
(`incidents.OUTAGE_ERROR_RATE`, 20 % of requests failing), with enough errors to be more than
chance. The instance stays unhealthy for `hold_seconds`, long enough for Front Door's probes to see
it (the default is two 30 s probe intervals), and then reports healthy again. A drained instance
gets no traffic, so it cannot show that it has recovered.

It is deliberately not an early warning. A minute of 2-8 % errors is a harmless blip in the
incident generator (`make eval-risk`), and the prediction handles the early signs. This check only
makes a failing instance leave quickly.

Counted: the hub's own answers (scope "hub"): 5xx and timeouts are failures. 429 is not, because
shedding load on purpose is not failing.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from shared.upstreams.outcome import Outcome

# incidents.OUTAGE_ERROR_RATE (not imported: incidents -> risk -> recorder -> here); a test holds them equal.
OUTAGE_ERROR_RATE = 0.20


class SelfCheck:
    def __init__(
        self,
        *,
        clock: Callable[[], float],
        window_seconds: float = 5.0,
        error_rate: float = OUTAGE_ERROR_RATE,
        min_errors: int = 10,
        hold_seconds: float = 60.0,
    ) -> None:
        self._clock = clock
        self._window = window_seconds
        self._rate = error_rate
        self._min_errors = min_errors
        self._hold = hold_seconds
        # One [second, requests, errors] per second that saw requests, oldest first.
        self._seconds: deque[list[int]] = deque()
        self._requests = 0
        self._errors = 0
        self._since: float | None = None
        self._until = 0.0
        self._seen: tuple[int, int] = (0, 0)

    def observe(self, outcome: Outcome) -> None:
        now = self._clock()
        second = int(now)
        if not self._seconds or self._seconds[-1][0] != second:
            self._seconds.append([second, 0, 0])
        bucket = self._seconds[-1]
        failed = outcome in ("error", "timeout")
        bucket[1] += 1
        self._requests += 1
        if failed:
            bucket[2] += 1
            self._errors += 1
        self._expire(now)
        if failed and self._errors >= self._min_errors and self._errors >= self._rate * self._requests:
            if now >= self._until:
                self._since = now
            self._until = now + self._hold
            self._seen = (self._requests, self._errors)

    def failing(self) -> dict[str, Any] | None:
        """What `/health` shows while the instance holds itself unhealthy; None otherwise."""
        now = self._clock()
        if now >= self._until or self._since is None:
            return None
        requests, errors = self._seen
        return {
            "failing": True,
            "reason": f"{errors} of its last {requests} requests failed (5xx or timeout)",
            "since_s": round(now - self._since, 1),
            "for_s": round(self._until - now, 1),
        }

    def _expire(self, now: float) -> None:
        horizon = int(now - self._window)
        while self._seconds and self._seconds[0][0] <= horizon:
            _, requests, errors = self._seconds.popleft()
            self._requests -= requests
            self._errors -= errors
