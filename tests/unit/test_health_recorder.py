"""What an instance records of its own and its upstreams' health, and the samples it makes of it."""

from __future__ import annotations

from shared.health.recorder import HealthRecorder


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_window_becomes_one_sample_per_scope_with_counts_and_percentiles() -> None:
    clock = Clock()
    recorder = HealthRecorder(region="westeurope", instance="i1", clock=clock)
    for millis in range(1, 101):
        recorder.record("hub", millis / 1000, "ok")
    recorder.record("up:notes", 0.5, "timeout")
    recorder.record("up:notes", 0.1, "error")
    recorder.record("up:notes", 0.05, "throttled")
    clock.now = 1015.0
    hub, notes = recorder.drain()
    assert (hub.scope, hub.count, hub.errors, hub.p50_ms, hub.p95_ms, hub.max_ms) == ("hub", 100, 0, 50.0, 95.0, 100.0)
    assert (notes.count, notes.errors, notes.timeouts, notes.throttles) == (3, 1, 1, 1)
    assert notes.error_rate == 2 / 3
    assert (hub.window_start, hub.window_end, hub.region, hub.instance) == (1000.0, 1015.0, "westeurope", "i1")


def test_only_the_first_window_of_an_instance_is_marked_cold_start_and_windows_do_not_overlap() -> None:
    clock = Clock()
    recorder = HealthRecorder(region="r", instance="i", clock=clock)
    recorder.record("hub", 0.01, "ok")
    clock.now = 1010.0
    [first] = recorder.drain()
    recorder.record("hub", 0.01, "ok")
    clock.now = 1020.0
    [second] = recorder.drain()
    assert first.cold_start
    assert not second.cold_start
    assert second.window_start == first.window_end
    assert recorder.drain() == []
