"""The capacity timer, fired through the local host: three weeks of recorded usage become today's
forecast, the forecast becomes Flex settings, and they reach the Function App through ARM (the
contract suite's stand-in, over HTTP) with the managed identity's token (azure-identity's real
ManagedIdentityCredential against a local identity endpoint)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from aiohttp import web

from infra.funchost.host import LocalFunctionsHost
from infra.processes import AUTH_OFF, free_port
from shared.forecast.traffic import SLOTS_PER_DAY, generate
from shared.operator_api.models import Scaling
from shared.usage.store import partition
from tests.contract.test_scale_target import SITE_ID, FakeFlexArm

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture
async def azure(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[dict[str, Any]]:
    """ARM and the identity endpoint on one loopback port."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    arm = FakeFlexArm(token=f"mi-token-for-{endpoint}")

    async def identity(request: web.Request) -> web.Response:
        assert request.headers["X-IDENTITY-HEADER"] == "local-secret-header"
        resource = request.query["resource"]
        return web.json_response(
            {
                "access_token": f"mi-token-for-{resource}",
                "expires_on": "4102444800",
                "token_type": "Bearer",
                "resource": resource,
            }
        )

    async def resource_manager(request: web.Request) -> web.Response:
        body = await request.read()
        answer = arm.handle(
            httpx.Request(request.method, f"{endpoint}{request.path_qs}", headers=dict(request.headers), content=body)
        )
        return web.Response(status=answer.status_code, body=answer.content, headers=dict(answer.headers))

    app = web.Application()
    app.router.add_get("/msi/token", identity)
    app.router.add_route("*", "/{tail:.*}", resource_manager)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"{endpoint}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", "local-secret-header")
    for name in ("MSI_ENDPOINT", "AZURE_CLIENT_ID", "AzureWebJobsStorage", "MCPHUB_STORAGE_CONNECTION_STRING"):
        monkeypatch.delenv(name, raising=False)
    yield {"endpoint": endpoint, "arm": arm}
    await runner.cleanup()


@pytest.fixture
def scaled_hub(
    monkeypatch: pytest.MonkeyPatch, functions_host: LocalFunctionsHost, azure: dict[str, Any]
) -> Iterator[LocalFunctionsHost]:
    from functions._deps import hub

    env = {
        **AUTH_OFF,
        "MCPHUB_REGION": "westeurope",
        "MCPHUB_SCALING__MODE": "apply",
        "MCPHUB_SCALING__SITES": f"westeurope={SITE_ID}",
        "MCPHUB_SCALING__ARM_ENDPOINT": azure["endpoint"],
        "MCPHUB_SCALING__MAX_STEP": "50",
        "MCPHUB_SCALING__MAX_MAXIMUM_STEP": "500",
        "MCPHUB_FORECAST__REQUESTS_PER_SECOND_PER_INSTANCE": "0.2",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    hub.cache_clear()
    yield functions_host
    hub.cache_clear()


async def test_three_weeks_of_usage_set_the_sites_flex_settings_through_arm(
    scaled_hub: LocalFunctionsHost, azure: dict[str, Any]
) -> None:
    from functions._deps import hub

    current = hub()
    try:
        today = int(time.time() // 86400)
        series = generate(3, seed=5)
        start = (today - 21) * 86400
        rows = [
            {
                "PartitionKey": partition("m5", start + i * 300),
                "RowKey": "region|westeurope|a",
                "Dimension": "region",
                "Key": "westeurope",
                "Count": count,
            }
            for i, count in enumerate(series)
        ]
        assert len(rows) == 21 * SLOTS_PER_DAY
        await current.ops.usage_store.upsert(rows)
        timer = next(t for t in scaled_hub.timers if t.name == "plan_capacity")
        await scaled_hub.fire(timer)

        arm: FakeFlexArm = azure["arm"]
        scale = arm.site["properties"]["functionAppConfig"]["scaleAndConcurrency"]
        state = (await current.scaling.controller.states())["westeurope"] if current.scaling else {}
        assert arm.puts == 1
        assert scale["alwaysReady"] == [{"name": "http", "instanceCount": state["wanted"]["alwaysReady"]}]
        assert scale["maximumInstanceCount"] == state["wanted"]["maximumInstances"]
        answer = Scaling.model_validate(
            {
                "mode": "apply",
                "regions": await current.scaling.controller.states(),
                "decisions": await current.scaling.controller.recent(),
            }
            if current.scaling
            else {}
        )
        [decision] = answer.decisions
        assert decision.applied
        assert decision.before.always_ready == 2  # the example site's own value
        assert decision.after.maximum_instances == scale["maximumInstanceCount"]
    finally:
        await current.aclose()
