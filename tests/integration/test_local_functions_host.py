"""The local host behaves like the Functions host for routes, errors, streaming and timers."""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from infra.processes import ROOT, Child, Processes, free_port

pytestmark = [pytest.mark.anyio, pytest.mark.integration]
APP = ROOT / "tests" / "fixtures" / "hostapp"


@pytest.fixture(scope="module")
def marks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(tmp_path_factory.mktemp("marks"))


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory, marks: Path) -> Iterator[Child]:
    processes = Processes(Path(tmp_path_factory.mktemp("hostlogs")))
    port = free_port()
    argv = [sys.executable, "-m", "infra.funchost", "--root", str(APP), "--port", str(port)]
    try:
        yield processes.start("hostapp", argv, port, env={"HOSTAPP_MARKS": str(marks)})
    finally:
        processes.stop_all()


@pytest.fixture
async def http(host: Child) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=host.url, timeout=10) as client:
        yield client


async def test_route_prefix_parameters_and_query_reach_the_function(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/items/42", params={"q": "x"})
    assert response.json() == {"id": 42, "q": "x"}


async def test_route_constraint_mismatch_is_404(http: httpx.AsyncClient) -> None:
    assert (await http.get("/api/items/abc")).status_code == 404


async def test_unknown_route_is_404(http: httpx.AsyncClient) -> None:
    assert (await http.get("/api/nothing")).status_code == 404
    assert (await http.get("/items/42")).status_code == 404  # without the routePrefix


async def test_method_not_listed_is_404_not_405(http: httpx.AsyncClient) -> None:
    assert (await http.get("/api/echo")).status_code == 404


async def test_body_headers_and_status_pass_through(http: httpx.AsyncClient) -> None:
    response = await http.post("/api/echo", content=b"payload", headers={"X-Test": "yes"})
    assert (response.status_code, response.content, response.headers["x-seen"]) == (201, b"payload", "yes")


async def test_unhandled_exception_is_500_with_no_detail(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/boom")
    assert response.status_code == 500
    assert b"secret" not in response.content


async def test_streamed_response_arrives_before_the_function_finishes(http: httpx.AsyncClient) -> None:
    async with http.stream("GET", "/api/stream") as response:
        chunks = response.aiter_bytes()
        assert await anext(chunks) == b"first\n"  # the generator is still blocked on `released`
        assert (await http.post("/api/release")).status_code == 204
        rest = b"".join([chunk async for chunk in chunks])
    assert rest == b"second\n"


def test_timers_fire_on_startup_and_on_schedule(host: Child, marks: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        ticks = (marks / "tick").read_text() if (marks / "tick").exists() else ""
        if (marks / "startup").exists() and len(ticks) >= 2:
            break
        time.sleep(0.1)
    assert (marks / "startup").read_text() == "x"
    assert len((marks / "tick").read_text()) >= 2
