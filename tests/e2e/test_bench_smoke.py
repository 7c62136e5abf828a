"""`make bench` still runs end to end (tiny counts; the figures themselves are not asserted)."""

from __future__ import annotations

import pytest

from infra import bench

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.mark.timeout(180)
def test_benchmark_runs_and_reports_every_target(capsys: pytest.CaptureFixture[str]) -> None:
    results = bench.main(["--calls", "20", "--concurrent-calls", "40", "--concurrency", "4", "--rounds", "1"])
    assert set(results) == {"direct", "hub/notes", "hub"}
    assert all(row["p50_ms"] > 0 and row["rps_c4"] > 0 for row in results.values())
    assert "hub CPU ms/call" in capsys.readouterr().out
