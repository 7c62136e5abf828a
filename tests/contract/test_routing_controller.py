"""One contract, every RoutingController: in memory, and Front Door through ARM (httpx
MockTransport answering with recorded ARM response shapes: paging, 202 + async operation, 429)."""

from __future__ import annotations

import copy
import http.server
import json
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from infra.processes import Processes, free_port
from infra.proxy import start_proxy
from shared.health.haproxy import HaproxyController
from shared.health.routing import (
    API_VERSION,
    FrontDoorController,
    MemoryRoutingController,
    Origin,
    RoutingController,
    RoutingError,
)

pytestmark = pytest.mark.anyio
RECORDED = Path(__file__).parent.parent / "fixtures" / "arm"
REGIONS = {"westeurope": "func-mcphub-weu.azurewebsites.net", "northeurope": "func-mcphub-neu.azurewebsites.net"}


class FakeArm:
    """Front Door's ARM API for one origin group, answering in recorded shapes."""

    def __init__(self, *, asynchronous: bool = False, throttle_first_write: bool = False) -> None:
        template = json.loads((RECORDED / "origin.json").read_text())
        self.origins: dict[str, dict[str, Any]] = {}
        for name, host in REGIONS.items():
            origin = copy.deepcopy(template)
            origin["name"] = name
            origin["id"] = origin["id"].rsplit("/", 1)[0] + "/" + name
            origin["properties"]["hostName"] = origin["properties"]["originHostHeader"] = host
            self.origins[name] = origin
        self.asynchronous = asynchronous
        self.throttle = throttle_first_write
        self.requests: list[httpx.Request] = []
        self.operations: dict[str, int] = {}

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert request.headers["authorization"] == "Bearer arm-token"
        path = request.url.path
        if "/operations/" in path:
            polls = self.operations[path] = self.operations.get(path, 0) + 1
            return httpx.Response(200, json={"status": "InProgress" if polls == 1 else "Succeeded"})
        assert request.url.params["api-version"] == API_VERSION
        if request.method == "GET" and path.endswith("/origins"):
            names = sorted(self.origins)
            if request.url.params.get("page") == "2":
                return httpx.Response(200, json={"value": [self.origins[n] for n in names[1:]]})
            next_link = f"{request.url.copy_with(params={'api-version': API_VERSION, 'page': '2'})}"
            return httpx.Response(200, json={"value": [self.origins[names[0]]], "nextLink": next_link})
        match = re.search(r"/origins/([^/]+)$", path)
        if request.method == "PATCH" and match:
            if self.throttle:
                self.throttle = False
                return httpx.Response(429, headers={"Retry-After": "1"}, json={"error": {"code": "TooManyRequests"}})
            origin = self.origins[match.group(1)]
            origin["properties"].update(json.loads(request.content)["properties"])
            if self.asynchronous:
                status = f"https://management.azure.com/subscriptions/x/providers/Microsoft.Cdn/operations/{len(self.requests)}"
                return httpx.Response(202, headers={"Azure-AsyncOperation": status})
            return httpx.Response(200, json=origin)
        return httpx.Response(404, json={"error": {"code": "NotFound"}})


class ArmToken:
    async def token(self, scope: str, assertion: str | None) -> str:
        assert scope == "https://management.azure.com/.default"
        return "arm-token"


async def no_wait(seconds: float) -> None:
    return None


def front_door(
    handler: Callable[[httpx.Request], httpx.Response],
    *,
    sleep: Callable[[float], Awaitable[None]] = no_wait,
    retries: int = 4,
) -> FrontDoorController:
    """The controller for one origin group, talking to `handler` instead of management.azure.com."""
    return FrontDoorController(
        httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        ArmToken(),
        subscription="00000000-0000-0000-0000-000000000001",
        resource_group="rg-mcphub",
        profile="afd-mcphub",
        origin_group="hub",
        retries=retries,
        sleep=sleep,
    )


@dataclass
class Setup:
    controller: RoutingController
    hosts: dict[str, str]
    weight: int  # the default weight of this kind of origin
    priorities: bool = True  # whether priority can change at runtime


@pytest.fixture(
    params=[
        "memory",
        "front-door",
        "front-door-async",
        "front-door-throttled",
        pytest.param("haproxy", marks=pytest.mark.integration),
    ]
)
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Setup]:
    if request.param == "memory":
        yield Setup(
            MemoryRoutingController([Origin(name, host, True) for name, host in REGIONS.items()]), REGIONS, 1000
        )
    elif request.param == "haproxy":
        processes = Processes(tmp_path)
        try:
            regions = {"westeurope": free_port(), "northeurope": free_port()}  # nothing listens: checks fail, fine
            proxy = start_proxy(processes, regions)
            hosts = {name: f"127.0.0.1:{port}" for name, port in regions.items()}
            yield Setup(HaproxyController("127.0.0.1", proxy.admin_port), hosts, 100, priorities=False)
        finally:
            processes.stop_all()
    else:
        arm = FakeArm(
            asynchronous=request.param.endswith("async"), throttle_first_write=request.param.endswith("throttled")
        )
        yield Setup(front_door(arm.handle), REGIONS, 1000)


async def test_origins_are_listed_with_host_state_priority_and_weight(setup: Setup) -> None:
    assert await setup.controller.origins() == [
        Origin("northeurope", setup.hosts["northeurope"], True, 1, setup.weight),
        Origin("westeurope", setup.hosts["westeurope"], True, 1, setup.weight),
    ]


async def test_draining_a_region_disables_its_origin_and_restoring_enables_it(setup: Setup) -> None:
    controller = setup.controller
    drained = await controller.update("westeurope", enabled=False)
    assert not drained.enabled
    assert [o.enabled for o in await controller.origins()] == [True, False]
    restored = await controller.update("westeurope", enabled=True, weight=50)
    assert (restored.enabled, restored.weight) == (True, 50)


async def test_priority_changes_where_the_router_allows_them_and_is_refused_where_not(setup: Setup) -> None:
    if setup.priorities:
        assert (await setup.controller.update("westeurope", priority=2)).priority == 2
    else:
        with pytest.raises(RoutingError, match="priority"):
            await setup.controller.update("westeurope", priority=2)


async def test_the_last_enabled_origin_is_never_disabled(setup: Setup) -> None:
    controller = setup.controller
    await controller.update("westeurope", enabled=False)
    with pytest.raises(RoutingError, match="last enabled origin"):
        await controller.update("northeurope", enabled=False)
    assert [o.enabled for o in await controller.origins()] == [True, False]


async def test_an_unknown_origin_is_an_error(setup: Setup) -> None:
    with pytest.raises(RoutingError, match="no origin"):
        await setup.controller.update("eastus", enabled=False)


async def test_asking_for_the_current_state_writes_nothing() -> None:
    arm = FakeArm()
    controller = front_door(arm.handle)
    await controller.update("westeurope", enabled=True, priority=1, weight=1000)
    assert controller.writes == 0
    assert all(request.method == "GET" for request in arm.requests)


async def test_only_the_changed_properties_are_patched() -> None:
    arm = FakeArm()
    await front_door(arm.handle).update("westeurope", enabled=False, weight=1000)
    [patch] = [r for r in arm.requests if r.method == "PATCH"]
    assert json.loads(patch.content) == {"properties": {"enabledState": "Disabled"}}


async def test_a_refusal_from_arm_names_its_status_and_code_but_no_token() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json=json.loads((RECORDED / "error.json").read_text()))

    controller = front_door(refuse)
    with pytest.raises(RoutingError) as refused:
        await controller.origins()
    assert "403 AuthorizationFailed" in str(refused.value)
    assert "arm-token" not in str(refused.value)


async def test_persistent_throttling_gives_up_after_the_retries() -> None:
    calls: list[int] = []

    def throttle(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(429, headers={"Retry-After": "2"})

    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    controller = front_door(throttle, retries=3, sleep=record)
    with pytest.raises(RoutingError, match="429 after 4 tries"):
        await controller.origins()
    assert (len(calls), waits) == (4, [2.0, 2.0, 2.0])


class _Healthy(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(params=["memory", pytest.param("haproxy", marks=pytest.mark.integration)])
def one_up(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RoutingController]:
    """Two enabled origins as their router sees them: westeurope up, northeurope down."""
    if request.param == "memory":
        controller = MemoryRoutingController([Origin(name, host, True) for name, host in REGIONS.items()])
        controller.observe("northeurope", serving=False)
        yield controller
        return
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Healthy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    processes = Processes(tmp_path)
    try:
        proxy = start_proxy(processes, {"westeurope": server.server_address[1], "northeurope": free_port()})
        yield HaproxyController("127.0.0.1", proxy.admin_port)
    finally:
        processes.stop_all()
        server.shutdown()
        server.server_close()


async def _seen(controller: RoutingController, serving: dict[str, bool]) -> None:
    """Until the router's health checks report `serving` (HAProxy checks every 0.5 s)."""
    deadline = time.monotonic() + 15
    while {o.name: o.serving for o in await controller.origins()} != serving:
        assert time.monotonic() < deadline, await controller.origins()
        await anyio.sleep(0.1)


async def test_the_last_origin_that_is_up_is_never_disabled_while_the_others_are_down(
    one_up: RoutingController,
) -> None:
    await _seen(one_up, {"westeurope": True, "northeurope": False})
    with pytest.raises(RoutingError, match="last enabled origin that is up"):
        await one_up.update("westeurope", enabled=False)
    assert not (await one_up.update("northeurope", enabled=False)).enabled  # the down one may go
    assert [o.enabled for o in await one_up.origins()] == [False, True]
