"""`make loadtest` still runs end to end against every target (a few users; figures not asserted
beyond: every target answered every request, and every open stream heard the mid-run change)."""

from __future__ import annotations

import pytest

from infra import loadtest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.mark.timeout(240)
def test_load_test_runs_every_target_and_every_listener_hears_the_tool_list_change(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rows = loadtest.main(["--users", "24", "--ramp", "1", "--steady", "4", "--think", "0.8"])
    assert set(rows) == {"direct", "hub", "mcp-proxy"}
    for name, row in rows.items():
        assert row["errors"] == 0, (name, row["error_kinds"])
        assert row["calls"] > 24, name
    for name in ("direct", "hub"):  # mcp-proxy forwards progress notifications only, not list changes
        row = rows[name]
        assert row["open_at_change"] > 0, name
        assert (row["missed"], row["relists_stale"]) == (0, 0), name
        assert row["relists_with_new_tool"] == row["open_at_change"], name
    hub = rows["hub"]
    assert hub["modern_users"] > 0  # both eras went through the hub
    assert hub["table_requests_per_call"] > 0  # Azurite's access log was counted
    peaks = [figures["streams_peak"] for figures in hub["instances"].values()]
    assert len(peaks) == 2
    assert min(peaks) > 0  # both instances behind HAProxy held streams
    assert sum(peaks) >= hub["open_at_change"]
    assert "hub / mcp-proxy:" in capsys.readouterr().out
