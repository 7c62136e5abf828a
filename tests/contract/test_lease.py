"""One contract, every Lease: in memory and Table Storage (real Azurite)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from shared.health.lease import Lease, MemoryLease, TableLease

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory", pytest.param("table", marks=pytest.mark.integration)])
async def lease(request: pytest.FixtureRequest) -> AsyncIterator[Lease]:
    if request.param == "memory":
        yield MemoryLease()
        return
    connection: str = request.getfixturevalue("storage_connection_string")
    table = TableLease.from_connection_string(connection, f"l{uuid.uuid4().hex[:16]}")
    yield table
    await table.close()


async def test_the_first_comer_holds_it_and_others_are_refused_until_it_expires(lease: Lease) -> None:
    assert await lease.acquire("health", "weu-1", ttl=60, now=1000)
    assert not await lease.acquire("health", "neu-1", ttl=60, now=1030)
    assert await lease.acquire("health", "neu-1", ttl=60, now=1061)
    assert not await lease.acquire("health", "weu-1", ttl=60, now=1062)


async def test_the_holder_renews_it(lease: Lease) -> None:
    assert await lease.acquire("health", "weu-1", ttl=60, now=1000)
    assert await lease.acquire("health", "weu-1", ttl=60, now=1050)
    assert not await lease.acquire("health", "neu-1", ttl=60, now=1100)


async def test_a_released_lease_is_free_but_only_its_holder_can_release_it(lease: Lease) -> None:
    assert await lease.acquire("health", "weu-1", ttl=60, now=1000)
    await lease.release("health", "neu-1")
    assert not await lease.acquire("health", "neu-1", ttl=60, now=1001)
    await lease.release("health", "weu-1")
    assert await lease.acquire("health", "neu-1", ttl=60, now=1002)


async def test_of_instances_racing_for_a_free_lease_exactly_one_wins(lease: Lease) -> None:
    results = await asyncio.gather(*(lease.acquire("race", f"i{n}", ttl=60, now=1000) for n in range(5)))
    assert sum(results) == 1


async def test_of_instances_racing_for_an_expired_lease_exactly_one_wins(lease: Lease) -> None:
    assert await lease.acquire("race", "old", ttl=10, now=1000)
    results = await asyncio.gather(*(lease.acquire("race", f"i{n}", ttl=60, now=2000) for n in range(5)))
    assert sum(results) == 1
