"""One contract, every SampleStore: in memory and Table Storage (real Azurite)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from shared.health.recorder import Sample
from shared.health.samples import MemorySampleStore, SampleStore, TableSampleStore

pytestmark = pytest.mark.anyio
HOUR = 3600.0 * 500_000


@pytest.fixture(params=["memory", pytest.param("table", marks=pytest.mark.integration)])
async def samples(request: pytest.FixtureRequest) -> AsyncIterator[SampleStore]:
    if request.param == "memory":
        yield MemorySampleStore()
        return
    connection: str = request.getfixturevalue("storage_connection_string")
    table = TableSampleStore.from_connection_string(connection, f"h{uuid.uuid4().hex[:16]}")
    yield table
    await table.close()


def sample(end: float, region: str = "westeurope", scope: str = "hub", instance: str = "i1") -> Sample:
    return Sample(region, instance, scope, end - 15, end, 100, 2, 1, 0, 12.5, 80.0, 140.0, False)


async def test_samples_read_back_identically_within_their_window(samples: SampleStore) -> None:
    written = [sample(HOUR + 10), sample(HOUR + 10, scope="up:notes"), sample(HOUR + 25, region="northeurope")]
    await samples.add(written)
    assert sorted(await samples.window(HOUR, HOUR + 60), key=repr) == sorted(written, key=repr)


async def test_a_window_spanning_an_hour_boundary_reads_both_hours(samples: SampleStore) -> None:
    await samples.add([sample(HOUR - 5), sample(HOUR + 5), sample(HOUR + 3600 + 5)])
    found = await samples.window(HOUR - 10, HOUR + 10)
    assert [s.window_end for s in found] == [HOUR - 5, HOUR + 5]


async def test_the_same_instance_window_and_scope_written_twice_is_one_sample(samples: SampleStore) -> None:
    await samples.add([sample(HOUR + 1)])
    await samples.add([sample(HOUR + 1)])
    assert len(await samples.window(HOUR, HOUR + 2)) == 1


async def test_many_samples_in_one_partition_are_all_kept(samples: SampleStore) -> None:
    batch = [sample(HOUR + 1, instance=f"i{n}") for n in range(150)]
    await samples.add(batch)
    assert len(await samples.window(HOUR, HOUR + 2)) == 150


async def test_retention_deletes_whole_hours_before_the_given_time_and_keeps_the_rest(samples: SampleStore) -> None:
    old, kept = sample(HOUR - 3600 + 10), [sample(HOUR + 10), sample(HOUR + 3600 + 10, region="northeurope")]
    await samples.add([old, sample(HOUR - 10), *kept])
    assert await samples.delete_before(HOUR + 1800) == 2  # the hour of HOUR + 1800 stays whole
    assert sorted(await samples.window(HOUR - 7200, HOUR + 7200), key=repr) == sorted(kept, key=repr)
