"""`make loadtest` still runs end to end against every target (a few users; figures not asserted
beyond: every target answered every request)."""

from __future__ import annotations

import pytest

from infra import loadtest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.mark.timeout(240)
def test_load_test_runs_every_target_without_errors(capsys: pytest.CaptureFixture[str]) -> None:
    rows = loadtest.main(["--users", "24", "--ramp", "1", "--steady", "3", "--think", "0.4"])
    assert set(rows) == {"direct", "hub", "mcp-proxy"}
    for name, row in rows.items():
        assert row["errors"] == 0, (name, row["error_kinds"])
        assert row["calls"] > 24, name
    assert rows["hub"]["modern_users"] > 0  # both eras went through the hub
    assert rows["hub"]["table_requests_per_call"] > 0  # Azurite's access log was counted
    assert "hub / mcp-proxy:" in capsys.readouterr().out
