from __future__ import annotations

import pytest

from shared.errors import UpstreamUnavailable
from shared.hub.relay import RelayCodec, RelayTarget
from shared.upstreams.breaker import CircuitBreaker


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_threshold_and_probes_once_after_reset() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failures=2, reset_seconds=10, clock=clock)
    breaker.record_failure()
    breaker.before_call("s")
    breaker.record_failure()
    assert breaker.state == "open"
    with pytest.raises(UpstreamUnavailable, match="stopped calling it"):
        breaker.before_call("s")
    clock.now = 10
    breaker.before_call("s")  # the one probe
    with pytest.raises(UpstreamUnavailable):
        breaker.before_call("s")  # a second caller while probing fails fast
    breaker.record_success()
    assert breaker.state == "closed"


def test_failed_probe_reopens_the_breaker() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failures=1, reset_seconds=5, clock=clock)
    breaker.record_failure()
    clock.now = 5
    breaker.before_call("s")
    breaker.record_failure()
    assert breaker.state == "open"


def test_relay_id_routes_back_only_within_its_own_session() -> None:
    codec = RelayCodec(b"k" * 32)
    target = RelayTarget("notes", "upstream-session", 3)
    relay_id = codec.encode("session-a", target)
    assert codec.decode("session-a", relay_id) == target
    assert codec.decode("session-b", relay_id) is None


def test_tampered_or_foreign_relay_ids_are_refused() -> None:
    codec = RelayCodec(b"k" * 32)
    relay_id = codec.encode("s", RelayTarget("notes", None, "x"))
    assert codec.decode("s", relay_id[:-2] + "AA") is None
    assert RelayCodec(b"other" * 8).decode("s", relay_id) is None
    assert codec.decode("s", 42) is None
