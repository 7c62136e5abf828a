"""`make bench`, `make coldstart` and `make profile` still run end to end (tiny counts; the figures
themselves are not asserted)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from infra import bench, bench_bridge, bench_stdio, coldstart
from infra.processes import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.mark.timeout(180)
def test_benchmark_runs_and_reports_every_target(capsys: pytest.CaptureFixture[str]) -> None:
    results = bench.main(["--calls", "20", "--concurrent-calls", "40", "--concurrency", "4", "--rounds", "1"])
    assert set(results) == {"direct", "floor", "hub/notes", "hub", "hub signed", "hub+plugins"}
    assert all(row["p50_ms"] > 0 and row["rps_c4"] > 0 and row["init_p50_ms"] > 0 for row in results.values())
    out = capsys.readouterr().out
    assert "hub CPU ms/call" in out
    assert "over the floor (same rounds)" in out
    assert "the three built-in plugins add" in out


@pytest.mark.timeout(180)
def test_stdio_bridge_benchmark_runs_and_reports_every_target(capsys: pytest.CaptureFixture[str]) -> None:
    results = bench_stdio.main(["--calls", "10", "--rounds", "1"])
    assert {"stdio", "bridge", "bridge-pypi", "hub/everything", "hub"} <= set(results)
    out = capsys.readouterr().out
    assert "added p50 ms" in out
    assert "mcp-proxy alone" in out


@pytest.mark.timeout(180)
def test_era_bridge_benchmark_runs_and_reports_every_target(capsys: pytest.CaptureFixture[str]) -> None:
    results = bench_bridge.main(["--calls", "5", "--rounds", "1"])
    assert len(results) == 10
    assert all(figures["p50_ms"] > 0 for figures in results.values())
    out = capsys.readouterr().out
    assert "other instance" in out
    assert "2025 client -> 2026 upstream, other instance" in out
    assert "2026 client -> server-everything, other instance" in out


@pytest.mark.timeout(180)
def test_cold_start_runs_and_no_heavy_module_is_loaded_before_the_first_answer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    medians = coldstart.main(["--rounds", "1"])
    assert medians["first_call"] > 0
    out = capsys.readouterr().out
    assert "heavy modules loaded by then: none" in out  # scikit-learn & co. wait for their first use


@pytest.mark.timeout(180)
def test_profile_runs_and_attributes_time_to_the_hubs_own_code() -> None:
    # Its own process: it builds the Function App in process, which tests here do once per process.
    argv = [sys.executable, "-m", "infra.profile", "--calls", "80", "--top", "5"]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=170, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "CPU ms per call" in done.stdout
    assert "hub: shared/" in done.stdout
