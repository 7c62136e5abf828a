"""The failover drill's short version: two regions behind HAProxy, clients of both eras, region A
degrading and then killed. The controller must drain A before it fails, and nobody may notice."""

from __future__ import annotations

import pytest

from infra import drill

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.mark.timeout(240)
def test_a_degrading_region_is_drained_before_it_fails_and_no_session_or_call_is_lost_after() -> None:
    report = drill.main(["--short"])
    phases = {phase.name: phase for phase in report.phases}
    assert report.drained_after_s is not None, "region A was never drained"
    assert report.lead_s is not None
    assert report.lead_s > 0, "region A was drained only after it failed"
    assert report.failed_after_drain == 0
    assert report.sessions_continued == report.sessions == 3
    assert report.recovered_after_s is not None
    assert phases["steady"].failed == phases["A heals"].failed == phases["A killed, restarted"].failed == 0
    assert "A restored" in phases["A heals"].notes
