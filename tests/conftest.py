"""Fixtures that start real processes on free loopback ports and always stop them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.processes import AUTH_OFF, Child, Processes, azurite_connection_string


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Processes]:
    started = Processes(Path(tmp_path_factory.mktemp("logs")))
    yield started
    started.stop_all()


@pytest.fixture(scope="session")
def azurite(processes: Processes) -> Child:
    return processes.azurite()


@pytest.fixture(scope="session")
def storage_connection_string(azurite: Child) -> str:
    return azurite_connection_string(azurite.port)


@pytest.fixture(scope="session")
def notes_upstream(processes: Processes) -> Child:
    return processes.demo("notes")


@pytest.fixture(scope="session")
def clock_upstream(processes: Processes) -> Child:
    return processes.demo("clock")


@pytest.fixture(scope="session")
def hub_env(storage_connection_string: str, notes_upstream: Child, clock_upstream: Child) -> dict[str, str]:
    return {
        "AzureWebJobsStorage": storage_connection_string,
        "MCPHUB_SERVER_NOTES__URL": f"{notes_upstream.url}/mcp",
        "MCPHUB_SERVER_CLOCK__URL": f"{clock_upstream.url}/mcp",
        "MCPHUB_SERVER_CLOCK__TIMEOUT": "5",
        "MCPHUB_MAX_BODY_BYTES": "65536",
        **AUTH_OFF,
    }


@pytest.fixture(scope="session")
def hub(processes: Processes, hub_env: dict[str, str]) -> Child:
    return processes.hub("hub-a", hub_env)


@pytest.fixture(scope="session")
def hub_b(processes: Processes, hub_env: dict[str, str]) -> Child:
    return processes.hub("hub-b", hub_env)
