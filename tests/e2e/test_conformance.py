"""The official MCP conformance suite scores the hub's passthrough exactly like the upstream alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.conformance.run import RUNS, compare, run_suite
from infra.processes import AUTH_OFF, Child, Processes

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory, storage_connection_string: str) -> Iterator[dict[str, Child]]:
    processes = Processes(Path(tmp_path_factory.mktemp("conformance")))
    try:
        fixture = processes.demo("conformance")
        env = {
            "AzureWebJobsStorage": storage_connection_string,
            "MCPHUB_SERVER_CONFORMANCE__URL": f"{fixture.url}/mcp",
            **AUTH_OFF,
        }
        yield {"upstream": fixture, "hub": processes.hub("hub-conformance", env)}
    finally:
        processes.stop_all()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("version", list(RUNS))
def test_hub_scores_the_same_as_the_upstream_alone(targets: dict[str, Child], version: str) -> None:
    direct = run_suite(f"{targets['upstream'].url}/mcp", RUNS[version], timeout=240)
    proxied = run_suite(f"{targets['hub'].url}/mcp/conformance", RUNS[version], timeout=240)
    assert compare(direct, proxied) == []
    if version == "2025-11-25":
        assert (proxied.passed, proxied.failed) == (73, 0)
