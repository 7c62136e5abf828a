"""One contract, every ScaleTarget: in memory, and a Flex Consumption Function App through ARM.

The ARM stand-in serves the site from the vendored azure-rest-api-specs example
(`tests/fixtures/arm/web`) and is at least as strict as ARM where this client depends on it:
- a PUT replaces the site: it must carry `location` and the whole `functionAppConfig`
  (deployment, runtime, scaleAndConcurrency), or it is a 400, as a Flex site cannot lose them;
- the Flex rules: maximum 1-1000, no negative always-ready count, always-ready ≤ maximum,
  instance memory 512/2048/4096 (400 with ARM's error shape);
- asynchronous mode answers 202 with the example's `azure-asyncoperation` header and applies the
  change only when the operation has succeeded; a PUT while one runs is a 409 Conflict;
- throttling is a 429 with `Retry-After`.
Where it differs: ARM's real Flex bounds come per region from its SKU listing; ARM may accept a PUT
this refuses (it is stricter, never looser).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.arm import ArmClient
from shared.forecast.flex import (
    WEB_API_VERSION,
    FlexScaleTarget,
    MemoryScaleTarget,
    Scale,
    ScaleRefused,
    ScaleTarget,
)

pytestmark = pytest.mark.anyio
EXAMPLE = json.loads(
    (
        Path(__file__).parent.parent / "fixtures/arm/web/CreateOrUpdateFunctionAppFlexConsumptionWithDetails.json"
    ).read_text()
)
SITE_ID = EXAMPLE["responses"]["200"]["body"]["id"]


def refuse(status: int, code: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message}})


class FakeFlexArm:
    """Microsoft.Web/sites for one Flex Consumption app, in the example's shapes."""

    def __init__(
        self,
        *,
        asynchronous: bool = False,
        throttle_first_put: bool = False,
        conflicts: int = 0,
        token: str = "arm-token",
    ) -> None:
        self.token = token
        self.site: dict[str, Any] = copy.deepcopy(EXAMPLE["responses"]["200"]["body"])
        self.asynchronous = asynchronous
        self.throttle = throttle_first_put
        self.conflicts = conflicts  # PUTs answered 409 (a deployment still running)
        self.requests: list[httpx.Request] = []
        self.puts = 0
        self.pending: tuple[str, dict[str, Any], int] | None = None  # operation path, body, polls left

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return refuse(401, "InvalidAuthenticationToken", "The access token is invalid.")
        path = request.url.path
        if "/operationResults/" in path:
            assert self.pending is not None
            assert self.pending[0] == path
            _, body, left = self.pending
            if left > 0:
                self.pending = (path, body, left - 1)
                return httpx.Response(200, json={"status": "InProgress"})
            self.site = body
            self.pending = None
            return httpx.Response(200, json={"status": "Succeeded"})
        assert request.url.params["api-version"] == WEB_API_VERSION
        if path.lower() != SITE_ID.lower():
            return refuse(404, "ResourceNotFound", "The Resource was not found.")
        if request.method == "GET":
            return httpx.Response(200, json=self.site)
        if request.method != "PUT":
            return refuse(405, "MethodNotAllowed", request.method)
        if self.throttle:
            self.throttle = False
            return httpx.Response(429, headers={"Retry-After": "1"}, json={"error": {"code": "TooManyRequests"}})
        if self.conflicts or self.pending is not None:
            self.conflicts = max(0, self.conflicts - 1)
            return refuse(409, "Conflict", "Another operation is in progress on the site.")
        body = json.loads(request.content)
        invalid = self.invalid(body)
        if invalid:
            return refuse(400, "BadRequest", invalid)
        self.puts += 1
        merged = copy.deepcopy(self.site)
        merged["properties"]["functionAppConfig"] = body["properties"]["functionAppConfig"]
        if self.asynchronous:
            header = EXAMPLE["responses"]["202"]["headers"]["azure-asyncoperation"]
            self.pending = (httpx.URL(header).path, merged, 1)
            return httpx.Response(202, headers={"Azure-AsyncOperation": header}, json=self.site)
        self.site = merged
        return httpx.Response(200, json=merged)

    @staticmethod
    def invalid(body: dict[str, Any]) -> str | None:
        if not body.get("location"):
            return "location is required"
        config = (body.get("properties") or {}).get("functionAppConfig") or {}
        missing = [k for k in ("deployment", "runtime", "scaleAndConcurrency") if k not in config]
        if missing:
            return f"functionAppConfig.{missing[0]} is required for a Flex Consumption app"
        scale = config["scaleAndConcurrency"]
        maximum = scale.get("maximumInstanceCount", 100)
        if not 1 <= maximum <= 1000:
            return "MaximumInstanceCount must be between 1 and 1000"
        if scale.get("instanceMemoryMB", 2048) not in (512, 2048, 4096):
            return "InstanceMemoryMB must be 512, 2048 or 4096"
        counts = [g.get("instanceCount", 0) for g in scale.get("alwaysReady") or []]
        if any(c < 0 for c in counts):
            return "AlwaysReady instance count cannot be negative"
        if sum(counts) > maximum:
            return "The total always ready instance count cannot exceed the maximum instance count"
        return None


class Tokens:
    async def token(self, scope: str, assertion: str | None) -> str:
        assert scope == "https://management.azure.com/.default"
        return "arm-token"

    async def aclose(self) -> None:
        return None


def flex(arm: FakeFlexArm, waits: list[float] | None = None, *, retries: int = 4) -> FlexScaleTarget:
    async def record(seconds: float) -> None:
        (waits if waits is not None else []).append(seconds)

    http = httpx.AsyncClient(transport=httpx.MockTransport(arm.handle))
    client = ArmClient(http, Tokens(), retries=retries, backoff_seconds=0.5, sleep=record)
    return FlexScaleTarget(http, Tokens(), site_id=SITE_ID, arm=client)


Make = Callable[[], Awaitable[tuple[ScaleTarget, Callable[[], int]]]]


async def _memory() -> tuple[ScaleTarget, Callable[[], int]]:
    target = MemoryScaleTarget(Scale(2, 100))  # the example's values
    return target, lambda: target.writes


async def _flex_sync() -> tuple[ScaleTarget, Callable[[], int]]:
    arm = FakeFlexArm()
    return flex(arm), lambda: arm.puts


async def _flex_async() -> tuple[ScaleTarget, Callable[[], int]]:
    arm = FakeFlexArm(asynchronous=True)
    return flex(arm), lambda: arm.puts


@pytest.fixture(params=[_memory, _flex_sync, _flex_async], ids=["memory", "flex", "flex-202"])
def make(request: pytest.FixtureRequest) -> Make:
    return request.param


async def test_a_target_reports_the_http_groups_always_ready_and_the_maximum(make: Make) -> None:
    target, _ = await make()
    assert await target.current() == Scale(2, 100)


async def test_applying_new_settings_sets_both_and_reads_back(make: Make) -> None:
    target, writes = await make()
    assert await target.apply(Scale(4, 60)) == Scale(4, 60)
    assert await target.current() == Scale(4, 60)
    assert writes() == 1


async def test_applying_what_is_set_writes_nothing(make: Make) -> None:
    target, writes = await make()
    await target.apply(Scale(2, 100))
    await target.apply(Scale(3, 100))
    await target.apply(Scale(3, 100))
    assert writes() == 1


async def test_zero_always_ready_leaves_no_http_group(make: Make) -> None:
    target, _ = await make()
    assert await target.apply(Scale(0, 40)) == Scale(0, 40)


@pytest.mark.parametrize(
    "wanted",
    [Scale(-1, 10), Scale(1, 0), Scale(1, 1001), Scale(11, 10)],
    ids=["negative", "no-maximum", "over-1000", "ready-over-maximum"],
)
async def test_what_arm_refuses_is_refused_and_nothing_changes(make: Make, wanted: Scale) -> None:
    target, writes = await make()
    with pytest.raises(ScaleRefused):
        await target.apply(wanted)
    assert (await target.current(), writes()) == (Scale(2, 100), 0)


# ---- Flex through ARM only ----------------------------------------------------------------------


async def test_the_put_carries_the_site_as_read_with_only_the_scale_changed() -> None:
    arm = FakeFlexArm()
    arm.site["properties"]["functionAppConfig"]["scaleAndConcurrency"]["alwaysReady"].append(
        {"name": "function:nightly", "instanceCount": 1}
    )
    before = copy.deepcopy(arm.site)
    await flex(arm).apply(Scale(5, 80))
    put = json.loads(next(r for r in arm.requests if r.method == "PUT").content)
    scale = put["properties"]["functionAppConfig"].pop("scaleAndConcurrency")
    expected = before["properties"]["functionAppConfig"].pop("scaleAndConcurrency")
    assert put["properties"]["functionAppConfig"] == before["properties"]["functionAppConfig"]
    assert put["location"] == before["location"]
    assert scale["alwaysReady"] == [
        {"name": "http", "instanceCount": 5},
        {"name": "function:nightly", "instanceCount": 1},
    ]
    assert scale["maximumInstanceCount"] == 80
    assert {k: v for k, v in scale.items() if k not in ("alwaysReady", "maximumInstanceCount")} == {
        k: v for k, v in expected.items() if k not in ("alwaysReady", "maximumInstanceCount")
    }


async def test_a_throttled_put_waits_for_retry_after_and_lands() -> None:
    arm, waits = FakeFlexArm(throttle_first_put=True), []
    assert await flex(arm, waits).apply(Scale(3, 100)) == Scale(3, 100)
    assert waits == [1.0]


async def test_a_conflict_while_a_deployment_runs_is_retried_with_backoff() -> None:
    arm, waits = FakeFlexArm(conflicts=2), []
    assert await flex(arm, waits).apply(Scale(3, 100)) == Scale(3, 100)
    assert waits == [0.5, 1.0]


async def test_a_conflict_that_outlasts_the_retries_is_refused_and_changes_nothing() -> None:
    arm = FakeFlexArm(conflicts=10)
    target = flex(arm, retries=2)
    with pytest.raises(ScaleRefused, match="409 Conflict after 3 tries"):
        await target.apply(Scale(3, 100))
    assert (await target.current(), arm.puts) == (Scale(2, 100), 0)


async def test_an_asynchronous_put_is_followed_to_its_end_before_reading_back() -> None:
    arm = FakeFlexArm(asynchronous=True)
    target = flex(arm)
    assert await target.apply(Scale(6, 90)) == Scale(6, 90)
    polls = [r for r in arm.requests if "/operationResults/" in r.url.path]
    assert len(polls) == 2
    assert arm.pending is None


async def test_a_refusal_names_arms_error_code() -> None:
    arm = FakeFlexArm()
    del arm.site["location"]  # a site read without its location cannot be PUT back
    with pytest.raises(ScaleRefused, match="400 BadRequest"):
        await flex(arm).apply(Scale(3, 100))


async def test_a_site_not_on_flex_consumption_is_refused() -> None:
    arm = FakeFlexArm()
    del arm.site["properties"]["functionAppConfig"]
    with pytest.raises(ScaleRefused, match="not on Flex Consumption"):
        await flex(arm).current()


def test_a_site_id_that_is_not_a_function_app_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="not a Function App"):
        FlexScaleTarget(httpx.AsyncClient(), Tokens(), site_id="/subscriptions/x/resourceGroups/y")
