"""The capacity controller: the forecast sets each region's Flex settings, within the guardrails."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shared.forecast.capacity import CapacitySettings
from shared.forecast.flex import MemoryScaleTarget, Scale, ScaleRefused
from shared.forecast.scaling import DECISION, Guardrails, ScalingController
from shared.forecast.traffic import SLOT_SECONDS, SLOTS_PER_DAY
from shared.identity.grants import MemoryGrantStore

pytestmark = pytest.mark.anyio
# 10 req/s per instance at full utilisation: 3,000 requests per 5-minute slot per instance.
CAPACITY = CapacitySettings(requests_per_second_per_instance=10.0, target_utilisation=1.0)
PER_SLOT = 10.0 * SLOT_SECONDS
DAY = 20 * 86400  # a midnight UTC


def day(base_instances: float, *, bump: tuple[int, int, float] | None = None) -> list[float]:
    """A forecast needing `base_instances` all day, and `bump` = (from hour, to hour, instances)."""
    series = [base_instances * PER_SLOT] * SLOTS_PER_DAY
    if bump:
        start, end, level = bump
        for slot in range(start * 12, end * 12):
            series[slot] = level * PER_SLOT
    return series


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def controller(
    targets: dict[str, MemoryScaleTarget], clock: Clock, **rails: object
) -> tuple[ScalingController, MemoryGrantStore]:
    store = MemoryGrantStore()
    defaults = Guardrails(mode="apply", cooldown_seconds=1800.0, max_step=100, max_maximum_step=1000)
    guardrails = replace(defaults, **rails)
    return ScalingController(targets, store, clock=clock, guardrails=guardrails, capacity=CAPACITY), store


async def test_the_warm_pool_is_sized_for_the_next_hours_peak_before_it_comes() -> None:
    target = MemoryScaleTarget(Scale(1, 100))
    clock = Clock(DAY + 9 * 3600 + 15 * 60)  # 09:15; the bump starts at 10:00
    scaling, _ = controller({"weu": target}, clock)
    [decision] = await scaling.tick({"weu": day(2, bump=(10, 12, 7))}, set())
    assert await target.current() == Scale(7, 11)  # maximum: 1.5 x the day's peak of 7
    assert decision["before"] == {"alwaysReady": 1, "maximumInstances": 100}
    assert decision["applied"]
    assert decision["inputs"]["windowPeakRps"] == 70.0


async def test_always_ready_never_goes_below_the_regions_floor() -> None:
    target = MemoryScaleTarget(Scale(5, 100))
    scaling, _ = controller({"weu": target}, Clock(DAY), floors={"weu": 3})
    await scaling.tick({"weu": day(0)}, set())
    assert (await target.current()).always_ready == 3


async def test_the_ceiling_bounds_what_the_forecast_asks() -> None:
    target = MemoryScaleTarget(Scale(1, 10))
    scaling, _ = controller({"weu": target}, Clock(DAY), ceilings={"weu": 6})
    [decision] = await scaling.tick({"weu": day(9)}, set())
    assert await target.current() == Scale(6, 9)  # the failover floor (9) is above the ceiling
    assert "always-ready held at the ceiling 6" in decision["reason"]
    assert "failover floor 9" in decision["reason"]


async def test_each_region_keeps_enough_maximum_to_take_every_regions_peak() -> None:
    weu, neu = MemoryScaleTarget(Scale(1, 100)), MemoryScaleTarget(Scale(1, 100))
    scaling, _ = controller({"weu": weu, "neu": neu}, Clock(DAY), headroom=1.0)
    await scaling.tick({"weu": day(2, bump=(0, 2, 8)), "neu": day(2, bump=(0, 2, 4))}, set())
    # Alone, weu asks for 8 and neu for 4; together they peak at 12.
    assert ((await weu.current()).maximum_instances, (await neu.current()).maximum_instances) == (12, 12)


async def test_a_drained_regions_load_moves_to_the_region_serving() -> None:
    weu, neu = MemoryScaleTarget(Scale(1, 100)), MemoryScaleTarget(Scale(1, 100))
    scaling, _ = controller({"weu": weu, "neu": neu}, Clock(DAY))
    await scaling.tick({"weu": day(3), "neu": day(4)}, {"neu"})
    assert (await weu.current()).always_ready == 7
    assert (await neu.current()).always_ready == 4  # its own forecast, for when it comes back


async def test_a_change_moves_by_at_most_the_largest_step() -> None:
    target = MemoryScaleTarget(Scale(1, 100))
    scaling, _ = controller({"weu": target}, Clock(DAY), max_step=2, max_maximum_step=30)
    [decision] = await scaling.tick({"weu": day(9)}, set())
    assert await target.current() == Scale(3, 70)
    assert "always-ready moved by the largest step 2" in decision["reason"]


async def test_the_failover_floor_is_kept_even_beyond_the_largest_step() -> None:
    target = MemoryScaleTarget(Scale(1, 2))
    scaling, _ = controller({"weu": target}, Clock(DAY), max_step=1, max_maximum_step=1)
    await scaling.tick({"weu": day(9)}, set())
    assert await target.current() == Scale(2, 9)


async def test_at_most_one_change_per_cooldown() -> None:
    target = MemoryScaleTarget(Scale(1, 100))
    clock = Clock(DAY)
    scaling, store = controller({"weu": target}, clock)
    assert len(await scaling.tick({"weu": day(3)}, set())) == 1
    clock.now += 900
    assert await scaling.tick({"weu": day(6)}, set()) == []
    assert (await target.current()).always_ready == 3
    assert (await scaling.states())["weu"]["heldUntil"] == DAY + 1800
    clock.now += 900
    assert len(await scaling.tick({"weu": day(6)}, set())) == 1
    assert (await target.current()).always_ready == 6
    assert len(await store.items(DECISION, now=clock.now)) == 2


async def test_an_unchanged_plan_records_no_decision_but_keeps_the_latest_plan() -> None:
    target = MemoryScaleTarget(Scale(3, 5))
    scaling, _ = controller({"weu": target}, Clock(DAY))
    assert await scaling.tick({"weu": day(3)}, set()) == []
    state = (await scaling.states())["weu"]
    assert state["wanted"] == state["actual"] == {"alwaysReady": 3, "maximumInstances": 5}


async def test_dry_run_writes_nothing_and_records_what_apply_would_do() -> None:
    target = MemoryScaleTarget(Scale(1, 100))
    clock = Clock(DAY)
    scaling, _ = controller({"weu": target}, clock, mode="dry-run", max_step=2)
    [first] = await scaling.tick({"weu": day(9)}, set())
    clock.now += 1800
    [second] = await scaling.tick({"weu": day(9)}, set())
    assert (first["after"]["alwaysReady"], second["before"]["alwaysReady"], second["after"]["alwaysReady"]) == (3, 3, 5)
    assert not first["applied"]
    assert first["mode"] == "dry-run"
    assert (await target.current(), target.writes) == (Scale(1, 100), 0)


class Refusing(MemoryScaleTarget):
    async def apply(self, wanted: Scale) -> Scale:
        raise ScaleRefused("ARM PUT answered 409 Conflict after 5 tries")


async def test_a_refused_change_is_recorded_with_the_error_and_tried_again_next_tick() -> None:
    target = Refusing(Scale(1, 100))
    clock = Clock(DAY)
    scaling, _ = controller({"weu": target}, clock)
    [decision] = await scaling.tick({"weu": day(4)}, set())
    assert (decision["applied"], decision["error"]) == (False, "ARM PUT answered 409 Conflict after 5 tries")
    clock.now += 900  # no cooldown was started by a change that did not happen
    assert len(await scaling.tick({"weu": day(4)}, set())) == 1


async def test_a_region_without_a_forecast_is_left_as_it_is() -> None:
    target = MemoryScaleTarget(Scale(1, 100))
    scaling, _ = controller({"weu": target}, Clock(DAY))
    assert await scaling.tick({"weu": None}, set()) == []
    assert target.writes == 0


async def test_the_maximum_never_caps_a_load_served_last_week_when_the_forecast_misses_it() -> None:
    target = MemoryScaleTarget(Scale(1, 100))
    scaling, _ = controller({"weu": target}, Clock(DAY), headroom=1.5)
    # The forecaster under-predicts (a holiday one week back): 1 instance; last week peaked at 10.
    [decision] = await scaling.tick({"weu": day(1)}, set(), {"weu": 10 * PER_SLOT})
    assert await target.current() == Scale(1, 15)
    assert decision["inputs"]["recentPeakRps"] == 100.0
