"""`make saturate` still runs end to end against every target (two short steps; figures not
asserted beyond: every step answered every call, and the summary names each target's best)."""

from __future__ import annotations

import pytest

from infra import saturate

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.mark.timeout(240)
def test_saturation_steps_every_target_and_reports_its_calls_per_second_under_the_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    results = saturate.main(["--levels", "2,4", "--step", "1.5"])
    assert set(results) == {"direct", "hub", "mcp-proxy"}
    for name, steps in results.items():
        assert [s["clients"] for s in steps] == [2, 4], name
        assert all(s["errors"] == 0 and s["calls"] > 0 for s in steps), name
        assert saturate.best(steps, 300.0) is not None, name
    out = capsys.readouterr().out
    assert "hub: at most" in out
    assert "hub / mcp-proxy: calls/s under the line" in out
