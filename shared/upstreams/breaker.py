"""A circuit breaker per upstream: after N consecutive failures, fail fast for a while, then probe."""

from __future__ import annotations

from collections.abc import Callable

from shared.errors import UpstreamUnavailable


class CircuitBreaker:
    """closed → (N failures) → open → (reset period) → half-open: one call decides."""

    def __init__(self, *, failures: int, reset_seconds: float, clock: Callable[[], float]) -> None:
        self._threshold = failures
        self._reset = reset_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self._reset:
            return "half-open"
        return "open"

    def before_call(self, server: str) -> None:
        state = self.state
        if state == "open" or (state == "half-open" and self._probing):
            assert self._opened_at is not None
            wait = max(0.0, self._reset - (self._clock() - self._opened_at))
            raise UpstreamUnavailable(
                server, f"upstream {server!r} is failing; the hub stopped calling it for {wait:.0f} s more"
            )
        if state == "half-open":
            self._probing = True

    def release(self) -> None:
        """A call ended with no verdict on the upstream (it never reached it, or was cancelled): a
        half-open breaker lets the next call probe, instead of waiting for a verdict that never comes."""
        self._probing = False

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._probing = False

    def record_failure(self) -> None:
        self._failures += 1
        self._probing = False
        if self._opened_at is not None or self._failures >= self._threshold:
            self._opened_at = self._clock()
