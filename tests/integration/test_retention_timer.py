"""The daily retention timer, fired through the local host like the real one fires it: audit hours,
usage windows and health samples past retention go, spent rate-limit windows go, recent data stays, and the
run is itself in the audit trail."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from infra.funchost.host import LocalFunctionsHost
from infra.processes import AUTH_OFF
from shared.call_record import CallRecord
from shared.health.recorder import Sample
from shared.usage.store import MemoryUsageStore

pytestmark = [pytest.mark.anyio, pytest.mark.integration]
DAY = 86400.0


@pytest.fixture
async def fresh_hub(
    monkeypatch: pytest.MonkeyPatch, functions_host: LocalFunctionsHost
) -> AsyncIterator[LocalFunctionsHost]:
    from functions._deps import hub

    for name in ("AzureWebJobsStorage", "MCPHUB_STORAGE_CONNECTION_STRING"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {**AUTH_OFF, "MCPHUB_AUDIT_RETENTION_DAYS": "2", "MCPHUB_USAGE_RETENTION_DAYS": "30"}.items():
        monkeypatch.setenv(name, value)
    hub.cache_clear()
    yield functions_host
    await hub().aclose()
    hub.cache_clear()


def sample(end: float) -> Sample:
    return Sample("local", "i1", "hub", end - 15, end, 10, 0, 0, 0, 5.0, 9.0, 12.0)


def call(at: float) -> CallRecord:
    return CallRecord(at, "t1:alice", "t1", "notes", "tools/call", "echo", "ok", 0.01, "local")


async def test_retention_deletes_what_is_past_its_period_and_keeps_the_rest(fresh_hub: LocalFunctionsHost) -> None:
    from functions._deps import hub

    ops = hub().ops
    now = time.time()
    ops.audit.record("signin.succeeded", at=now - 5 * DAY, user="t1:old")
    ops.audit.record("signin.succeeded", at=now - 60, user="t1:recent")
    await ops.audit.flush()
    ops.usage(call(now - 40 * DAY))
    ops.usage(call(now - 60))
    await ops.usage.flush()
    await ops.budgets.take("peruser|t1:alice", 1, 1, 10, expires=now - 10)
    await ops.budgets.take("peruser|t1:alice", 2, 1, 10, expires=now + 50)
    health = hub().sample_store
    old, recent = sample(now - 40 * DAY), sample(now - 60)
    await health.add([old, recent])

    timer = next(t for t in fresh_hub.timers if t.name == "apply_retention")
    await fresh_hub.fire(timer)

    await ops.audit.flush()
    hours = int((now - 10 * DAY) // 3600), int(now // 3600)
    users = [r.get("user") for r in await ops.audit.search(*hours, {}, after=None, limit=100)]
    assert "t1:old" not in users
    assert "t1:recent" in users
    assert any(r["event"] == "retention.applied" for r in await ops.audit.search(*hours, {}, after=None, limit=100))
    store = ops.usage_store
    assert isinstance(store, MemoryUsageStore)
    starts = {int(key[0].split("-", 1)[1]) for key in store.rows}
    assert min(starts) >= now - 31 * DAY
    assert await ops.budgets.purge(now) == 0  # the spent window went with the timer; the live one stays
    assert (await ops.budgets.take("peruser|t1:alice", 2, 10, 10, expires=now + 50)).granted == 9
    assert await health.window(now - 50 * DAY, now + 1) == [recent]  # health samples: 35 days
