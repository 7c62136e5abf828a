"""Rate-limit rules from settings, and the limiter spending budget shared through a store."""

from __future__ import annotations

import logging

import pytest

from shared.errors import ConfigError, RateLimited
from shared.limits.budget import Grant, MemoryBudgetStore
from shared.limits.limiter import RateLimiter
from shared.limits.rules import LimitRule, load_limits
from shared.principal import Principal

pytestmark = pytest.mark.anyio

ALICE = Principal("t1", "alice", roles=frozenset({"Hub.User"}))
BOB = Principal("t1", "bob")
CAROL = Principal("t2", "carol", roles=frozenset({"Hub.Contractor"}))


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class CountingStore(MemoryBudgetStore):
    def __init__(self) -> None:
        super().__init__()
        self.takes = 0

    async def take(self, key: str, window: int, want: int, cap: int, *, expires: float) -> Grant:
        self.takes += 1
        return await super().take(key, window, want, cap, expires=expires)


class BrokenStore(MemoryBudgetStore):
    async def take(self, key: str, window: int, want: int, cap: int, *, expires: float) -> Grant:
        raise ConnectionError("table storage unreachable")


def rule(**fields: object) -> LimitRule:
    return LimitRule.model_validate({"name": "r", "requests": 5, "seconds": 60, **fields})


async def admitted(limiter: RateLimiter, who: Principal, server: str, times: int) -> int:
    count = 0
    for _ in range(times):
        try:
            await limiter.admit(who, server)
            count += 1
        except RateLimited:
            pass
    return count


def test_limits_are_read_from_limit_variables() -> None:
    rules = load_limits(
        {
            "MCPHUB_LIMIT_PERUSER__REQUESTS": "120",
            "MCPHUB_LIMIT_GITHUB__PER": "all",
            "MCPHUB_LIMIT_GITHUB__SERVER": "github",
            "MCPHUB_LIMIT_GITHUB__REQUESTS": "1000",
            "MCPHUB_LIMIT_GITHUB__SECONDS": "3600",
        },
        {"github": object()},
    )
    assert [(r.name, r.requests, r.seconds, r.per, r.server) for r in rules] == [
        ("github", 1000, 3600, "all", "github"),
        ("peruser", 120, 60, "user", None),
    ]


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"MCPHUB_LIMIT_X__REQUESTS": "0"}, "MCPHUB_LIMIT_X__REQUESTS"),
        ({"MCPHUB_LIMIT_X__REQUESTS": "5", "MCPHUB_LIMIT_X__SERVER": "jira"}, "MCPHUB_LIMIT_X__SERVER"),
        ({"MCPHUB_LIMIT_X__REQUESTS": "5", "MCPHUB_LIMIT_X__PER": "planet"}, "MCPHUB_LIMIT_X__PER"),
        ({"MCPHUB_LIMIT_X__REQUESTS": "5", "MCPHUB_LIMIT_X__COLOUR": "red"}, "MCPHUB_LIMIT_X__COLOUR"),
        ({"MCPHUB_LIMIT_X": "5"}, "MCPHUB_LIMIT_X"),
    ],
)
def test_a_bad_limit_setting_names_its_variable(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_limits(environ, {"github": object()})


async def test_a_user_over_the_limit_is_refused_until_the_window_ends() -> None:
    clock = Clock(1000.0)
    limiter = RateLimiter([rule()], MemoryBudgetStore(), clock=clock)
    assert await admitted(limiter, ALICE, "notes", 5) == 5
    with pytest.raises(RateLimited) as refused:
        await limiter.admit(ALICE, "notes")
    assert refused.value.retry_after == 20  # the window [960, 1020) ends in 20 s
    assert refused.value.data == {"limit": "r", "retryAfter": 20}
    assert "5 requests per 60 s per user" in refused.value.message
    clock.now = 1020.0
    assert await admitted(limiter, ALICE, "notes", 5) == 5


async def test_one_user_spending_their_budget_leaves_another_users_untouched() -> None:
    limiter = RateLimiter([rule()], MemoryBudgetStore(), clock=Clock())
    assert await admitted(limiter, ALICE, "notes", 20) == 5
    assert await admitted(limiter, BOB, "notes", 20) == 5


async def test_a_tenant_or_everyone_limit_is_shared_by_its_users() -> None:
    limiter = RateLimiter([rule(per="tenant")], MemoryBudgetStore(), clock=Clock())
    assert await admitted(limiter, ALICE, "notes", 3) + await admitted(limiter, BOB, "notes", 10) == 5
    assert await admitted(limiter, CAROL, "notes", 10) == 5


async def test_a_rule_counts_only_the_calls_it_names() -> None:
    limiter = RateLimiter(
        [rule(server="github", per="all", requests=2), rule(name="c", role="Hub.Contractor", requests=3)],
        MemoryBudgetStore(),
        clock=Clock(),
    )
    assert await admitted(limiter, ALICE, "github", 5) == 2
    assert await admitted(limiter, ALICE, "notes", 10) == 10
    assert await admitted(limiter, CAROL, "notes", 10) == 3


async def test_two_instances_sharing_a_store_admit_exactly_the_limit_together() -> None:
    store, clock = MemoryBudgetStore(), Clock()
    a = RateLimiter([rule(requests=100)], store, clock=clock)
    b = RateLimiter([rule(requests=100)], store, clock=clock)
    total = 0
    for _ in range(150):
        total += await admitted(a, ALICE, "notes", 1)
        total += await admitted(b, ALICE, "notes", 1)
    assert total == 100


async def test_most_calls_spend_local_budget_without_a_store_round_trip() -> None:
    store = CountingStore()
    limiter = RateLimiter([rule(requests=1000)], store, clock=Clock())
    assert await admitted(limiter, ALICE, "notes", 500) == 500
    assert store.takes <= 7  # chunks of 100, fetched ahead of need


async def test_a_refusal_by_one_rule_gives_back_what_the_others_took() -> None:
    limiter = RateLimiter(
        [rule(name="wide", requests=10), rule(name="narrow", server="github", requests=2)],
        MemoryBudgetStore(),
        clock=Clock(),
    )
    assert await admitted(limiter, ALICE, "github", 10) == 2
    assert await admitted(limiter, ALICE, "notes", 20) == 8


async def test_a_store_outage_lets_calls_through_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    limiter = RateLimiter([rule()], BrokenStore(), clock=Clock())
    with caplog.at_level(logging.WARNING, logger="shared.limits.limiter"):
        assert await admitted(limiter, ALICE, "notes", 3) == 3
    assert "budget store unavailable" in caplog.text
