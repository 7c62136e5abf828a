"""`make drill-scale` in small: two replayed days through the real forecaster and controller."""

from __future__ import annotations

import io

import pytest

from infra.drill_scale import replay

pytestmark = pytest.mark.anyio


async def test_two_replayed_days_follow_the_load_cheaper_than_a_static_peak_plan_and_never_cap() -> None:
    out = io.StringIO()
    result = await replay(2, 11, out)
    text = out.getvalue()
    assert "the plan beside the load, hour by hour" in text
    assert text.splitlines()[-1].startswith("2 days, 2 regions: under-provisioned 0 of 5760 region-minutes")
    assert result["capped_minutes"] == 0
    assert 0 < int(str(result["decisions"])) < 2 * 2 * 96  # it acts, and the cooldown holds it back
    assert float(str(result["cost"])) < float(str(result["static_cost"]))
