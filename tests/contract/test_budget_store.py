"""One contract, every BudgetStore: in memory and Table Storage (real Azurite)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from shared.limits.budget import BudgetStore, MemoryBudgetStore, TableBudgetStore

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory", pytest.param("table", marks=pytest.mark.integration)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[BudgetStore]:
    if request.param == "memory":
        yield MemoryBudgetStore()
        return
    connection: str = request.getfixturevalue("storage_connection_string")
    table = TableBudgetStore.from_connection_string(connection, f"b{uuid.uuid4().hex[:16]}")
    yield table
    await table.close()


async def test_grants_stop_at_the_cap_and_say_what_is_left(store: BudgetStore) -> None:
    first = await store.take("peruser|t:u", 7, 6, 10, expires=100)
    second = await store.take("peruser|t:u", 7, 6, 10, expires=100)
    third = await store.take("peruser|t:u", 7, 6, 10, expires=100)
    assert (first.granted, first.left) == (6, 4)
    assert (second.granted, second.left) == (4, 0)
    assert third.granted == 0


async def test_each_window_and_each_subject_has_its_own_budget(store: BudgetStore) -> None:
    await store.take("peruser|t:u", 7, 10, 10, expires=100)
    assert (await store.take("peruser|t:u", 8, 3, 10, expires=200)).granted == 3
    assert (await store.take("peruser|t:other", 7, 3, 10, expires=100)).granted == 3


async def test_instances_racing_for_one_budget_never_get_more_than_the_cap(store: BudgetStore) -> None:
    grants = await asyncio.gather(*(store.take("all|*", 1, 3, 20, expires=100) for _ in range(12)))
    assert sum(g.granted for g in grants) == 20


async def test_purge_deletes_only_windows_that_ended(store: BudgetStore) -> None:
    await store.take("k", 1, 1, 10, expires=100)
    await store.take("k", 2, 1, 10, expires=200)
    assert await store.purge(150) == 1
    assert (await store.take("k", 2, 10, 10, expires=200)).granted == 9
    assert (await store.take("k", 1, 10, 10, expires=100)).granted == 10
