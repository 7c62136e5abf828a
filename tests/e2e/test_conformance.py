"""The official MCP conformance suite: through the hub, both routes pass every check the upstream passes alone.

`/mcp/{server}` is the transparent route; `/mcp` runs the aggregate pipeline in front of one
verbatim server (names and URIs unchanged, the hub's own tools off).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.conformance.run import (
    BRIDGED_KNOWN,
    KNOWN,
    ROUNDS,
    ROUTES,
    RUNS,
    VERBATIM,
    bridged_failures,
    compare,
    run_suite,
)
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
            **VERBATIM,
        }
        yield {"upstream": fixture, "hub": processes.hub("hub-conformance", env)}
    finally:
        processes.stop_all()


@pytest.mark.timeout(400)
@pytest.mark.parametrize("version", list(RUNS))
def test_hub_passes_every_check_the_upstream_passes_alone(targets: dict[str, Child], version: str) -> None:
    direct = run_suite(f"{targets['upstream'].url}/mcp", RUNS[version], timeout=240)
    scores = {route: run_suite(f"{targets['hub'].url}{route}", RUNS[version], timeout=240) for route in ROUTES}
    for route, score in scores.items():
        worse = [name for name in compare(direct, score) if (version, route, name) not in KNOWN]
        assert worse == [], (route, {name: (direct.scenarios.get(name), score.scenarios.get(name)) for name in worse})
    transparent, aggregate = scores["/mcp/conformance"], scores["/mcp"]
    if version == "2025-11-25":
        assert (transparent.passed, transparent.failed) == (73, 0)
        assert aggregate.failed == 0
    else:
        # What the hub answers itself on /mcp passes in full, and multi-round calls pass through.
        answered = ["server-stateless", "caching", "dns-rebinding-protection", "http-header-validation"]
        rounds = [name for name in aggregate.scenarios if name.startswith("input-required-result-")]
        assert len(rounds) >= 10
        for name in answered + rounds:
            assert aggregate.scenarios[name][1] == 0, (name, aggregate.scenarios[name])


@pytest.fixture(scope="module")
def bridged(tmp_path_factory: pytest.TempPathFactory, storage_connection_string: str) -> Iterator[Child]:
    processes = Processes(Path(tmp_path_factory.mktemp("conformance-bridged")))
    try:
        old = processes.demo("conformance-2025")
        env = {
            "AzureWebJobsStorage": storage_connection_string,
            "MCPHUB_SERVER_CONFORMANCE__URL": f"{old.url}/mcp",
            **AUTH_OFF,
            **VERBATIM,
        }
        yield processes.hub("hub-conformance-bridged", env)
    finally:
        processes.stop_all()


@pytest.mark.timeout(300)
def test_multi_round_scenarios_pass_through_mcp_with_a_handshake_era_upstream(bridged: Child) -> None:
    """The fixture asks with real sampling, elicitation and roots requests, as a 2025 server does;
    the 2026-07-28 suite sees input_required results and passes every multi round-trip check."""
    score = run_suite(f"{bridged.url}/mcp", RUNS["2026-07-28"], timeout=240)
    assert bridged_failures(score) == [], {n: r for n, r in score.scenarios.items() if n.startswith(ROUNDS)}
    assert len([name for name in score.scenarios if name.startswith(ROUNDS)]) >= 10
    for name in BRIDGED_KNOWN:  # one check each, the other passing: still worth the note, no more
        assert score.scenarios[name] == (1, 1), (name, score.scenarios[name])
