"""An instance failing its own callers turns /health unhealthy at once, and only then."""

from __future__ import annotations

import random

import pytest

from shared.health import incidents
from shared.health.incidents import timelines
from shared.health.probe import HealthProbe
from shared.health.recorder import HealthRecorder
from shared.health.self_check import OUTAGE_ERROR_RATE, SelfCheck
from shared.upstreams.breaker import CircuitBreaker

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def feed(
    check: SelfCheck, clock: Clock, *, per_second: int, error_rate: float, seconds: float, rng: random.Random
) -> None:
    for _ in range(int(per_second * seconds)):
        clock.now += 1 / per_second
        check.observe("error" if rng.random() < error_rate else "ok")


def test_the_failing_threshold_is_the_outage_definition_the_risk_model_learns() -> None:
    assert incidents.OUTAGE_ERROR_RATE == OUTAGE_ERROR_RATE


def test_an_instance_answering_most_requests_with_5xx_is_failing_within_two_seconds() -> None:
    clock = Clock()
    check = SelfCheck(clock=clock)
    rng = random.Random(1)
    feed(check, clock, per_second=80, error_rate=0.0, seconds=10, rng=rng)
    assert check.failing() is None
    began = clock.now
    while check.failing() is None:
        clock.now += 1 / 80
        check.observe("error" if rng.random() < 0.9 else "ok")
        # The 5 s window still holds 400 good answers: 20 % of them all is reached after ~1.4 s.
        assert clock.now - began < 2.0, "not failing after two seconds of 90 % errors"
    failing = check.failing()
    assert failing is not None
    assert "failed" in failing["reason"]


def test_it_stays_failing_for_the_hold_then_reports_healthy_again() -> None:
    clock = Clock()
    check = SelfCheck(clock=clock, hold_seconds=60)
    for _ in range(20):
        clock.now += 0.01
        check.observe("error")
    assert check.failing() is not None
    clock.now += 59  # drained: no traffic, nothing new to judge by
    assert check.failing() is not None
    clock.now += 2
    assert check.failing() is None


def test_a_few_errors_at_low_volume_are_not_an_outage() -> None:
    clock = Clock()
    check = SelfCheck(clock=clock)
    for _ in range(9):  # 9 of 9 failed: everything, but fewer than ten errors is not evidence
        clock.now += 0.1
        check.observe("timeout")
    assert check.failing() is None


def test_throttling_on_purpose_is_not_failing() -> None:
    clock = Clock()
    check = SelfCheck(clock=clock)
    for _ in range(100):
        clock.now += 0.01
        check.observe("throttled")
    assert check.failing() is None


def test_old_errors_leave_the_window() -> None:
    clock = Clock()
    check = SelfCheck(clock=clock, window_seconds=5)
    for _ in range(9):
        clock.now += 0.01
        check.observe("error")
    clock.now += 6
    check.observe("error")  # ten errors in all, but only one in the last five seconds
    assert check.failing() is None


@pytest.mark.parametrize("busy", [False, True], ids=["its-own-volume", "at-80-requests-a-second"])
def test_no_healthy_timeline_of_make_eval_risk_would_turn_an_instance_unhealthy(busy: bool) -> None:
    """Replays every minute of the incident generator's healthy timelines (errors around 0.4 %, and
    harmless blips of 2-8 %) as per-request outcomes on one instance: at the timeline's own volume
    (1-13 requests a second), and at 80 a second (the drill's), where a blip's errors pile up."""
    rng = random.Random(7)
    healthy = [t for t in timelines(11, 60) if t.kind == "none"]
    assert len(healthy) >= 5
    for timeline in healthy:
        clock = Clock()
        check = SelfCheck(clock=clock)
        for window in timeline.windows:
            per_second = 80 if busy else max(1, window.requests // 60)
            feed(check, clock, per_second=per_second, error_rate=window.error_rate, seconds=60, rng=rng)
            assert check.failing() is None, f"false drain at error rate {window.error_rate:.3f}"


async def test_health_turns_503_live_while_the_instance_is_failing_although_storage_answers() -> None:
    clock = Clock()
    check = SelfCheck(clock=clock, hold_seconds=60)
    recorder = HealthRecorder(region="westeurope", instance="i1", clock=clock, self_check=check)

    async def storage() -> None:
        return None

    probe = HealthProbe(
        check_storage=storage,
        breakers={"notes": CircuitBreaker(failures=5, reset_seconds=30, clock=clock)},
        region="westeurope",
        instance="i1",
        version="0.1.0",
        clock=clock,
        self_check=check,
    )
    assert (await probe.report())[0] is True  # and cached now, for five seconds
    for _ in range(12):
        clock.now += 0.01
        recorder.record("hub", 0.002, "error")
    recorder.record("up:notes", 0.002, "error")  # upstreams' failures are not the instance's
    healthy, body = await probe.report()
    assert not healthy
    assert body["status"] == "unhealthy"
    assert body["requests"]["failing"] is True
    clock.now += 61
    assert (await probe.report())[0] is True
