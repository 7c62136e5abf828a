"""Routing decisions: drain at risk, hold while a change propagates, restore after sustained health
and the cooldown, never strand the hub without a region, and record every decision."""

from __future__ import annotations

import pytest

from shared.health.policy import PolicySettings, RoutingPolicy
from shared.health.risk import Assessment
from shared.health.routing import MemoryRoutingController, Origin
from shared.identity.grants import MemoryGrantStore

pytestmark = pytest.mark.anyio
SETTINGS = PolicySettings(drain_probability=0.6, restore_after=3, cooldown_seconds=300, propagation_seconds=120)


class World:
    def __init__(self) -> None:
        self.now = 10_000.0
        self.controller = MemoryRoutingController([Origin("weu", "a", True), Origin("neu", "b", True)])
        self.policy = RoutingPolicy(self.controller, MemoryGrantStore(), clock=lambda: self.now, settings=SETTINGS)

    async def tick(self, weu: float, neu: float = 0.0, seconds: float = 60) -> list[str]:
        decisions = await self.policy.apply({"weu": risk("weu", weu), "neu": risk("neu", neu)})
        self.now += seconds
        return [f"{d.action} {d.region}{'' if d.applied else ' refused'}" for d in decisions]

    async def enabled(self) -> dict[str, bool]:
        return {o.name: o.enabled for o in await self.controller.origins()}


def risk(region: str, probability: float) -> Assessment:
    return Assessment(region, probability, probability * 100, "overload" if probability else "none", None, 0.8)


async def test_a_region_at_risk_is_drained_and_restored_only_after_sustained_health_and_cooldown() -> None:
    world = World()
    assert await world.tick(0.1) == []
    assert await world.tick(0.7) == ["drain weu"]
    assert await world.enabled() == {"weu": False, "neu": True}
    timeline = [await world.tick(0.0) for _ in range(6)]
    # healthy from the first tick after the drain; restored once 3 healthy ticks and 300 s have passed
    assert timeline == [[], [], [], [], ["restore weu"], []]
    assert await world.enabled() == {"weu": True, "neu": True}


async def test_nothing_is_decided_for_a_region_while_its_last_change_propagates() -> None:
    world = World()
    assert await world.tick(0.9, seconds=30) == ["drain weu"]
    assert await world.tick(0.0, seconds=30) == []
    assert await world.tick(0.0, seconds=30) == []
    assert (await world.policy.states())["weu"]["drained"] is True


async def test_a_flapping_region_is_not_restored_while_risk_returns() -> None:
    world = World()
    await world.tick(0.8)
    for probability in (0.0, 0.0, 0.7, 0.0, 0.0, 0.7, 0.0, 0.0):
        assert await world.tick(probability, seconds=120) == []
    assert await world.enabled() == {"weu": False, "neu": True}


async def test_when_every_region_is_at_risk_the_last_one_stays_and_the_refusal_is_recorded() -> None:
    world = World()
    assert await world.tick(0.9, neu=0.9) == ["drain neu", "drain weu refused"]
    assert list((await world.enabled()).values()).count(True) == 1
    [refused, drained] = await world.policy.recent()
    assert (refused["region"], refused["applied"]) == ("weu", False)
    assert "last enabled origin" in refused["error"]
    assert drained["reason"].startswith("threshold: failure probability 0.90")
    assert drained["assessment"]["failure_type"] == "overload"


async def test_a_region_drained_again_soon_after_its_restore_waits_twice_as_long_next_time() -> None:
    world = World()
    await world.tick(0.9)  # drained; cooldown 300 s
    restored_after = [await world.tick(0.0) for _ in range(6)]
    assert ["restore weu"] in restored_after
    assert await world.tick(0.9) == ["drain weu"]  # it was not healthy after all
    timeline = [await world.tick(0.0) for _ in range(12)]
    # now 600 s must pass: not restored at the 300 s mark, restored after 600 s
    first_restore = next(i for i, t in enumerate(timeline) if t)
    assert timeline[first_restore] == ["restore weu"]
    assert (first_restore + 1) * 60 >= 600


async def test_a_drained_region_whose_health_does_not_answer_is_not_restored() -> None:
    world = World()
    answering = [False]
    probed: list[str] = []

    class Controller(MemoryRoutingController):
        def health_url(self, origin: Origin) -> str | None:
            return f"http://{origin.host}/health"

    async def probe(url: str) -> bool:
        probed.append(url)
        return answering[0]

    world.controller = Controller([Origin("weu", "a", True), Origin("neu", "b", True)])
    world.policy = RoutingPolicy(
        world.controller, MemoryGrantStore(), clock=lambda: world.now, settings=SETTINGS, probe=probe
    )
    await world.tick(0.9)
    assert [await world.tick(0.0) for _ in range(8)] == [[]] * 8
    assert probed
    assert probed[0] == "http://a/health"
    answering[0] = True
    timeline = [await world.tick(0.0) for _ in range(4)]
    assert ["restore weu"] in timeline
