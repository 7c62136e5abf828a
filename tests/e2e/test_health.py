"""`/health` for Front Door, `/health/live`, and health samples reaching Table Storage."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient

from infra.processes import AUTH_OFF, Child, Processes, azurite_connection_string, free_port
from tests.wire import HEADERS, INIT

pytestmark = [pytest.mark.e2e]


def test_health_names_region_instance_version_storage_and_breakers(hub: Child) -> None:
    response = httpx.get(f"{hub.url}/health")
    body = response.json()
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert body["status"] in ("ok", "degraded")
    assert body["storage"]["ok"] is True
    assert (body["region"], body["instance"]) == ("local", "hub-a")
    assert body["version"]
    assert set(body["servers"]) == {"notes", "clock"}


def test_an_instance_that_cannot_reach_its_session_store_answers_503_but_is_live(tmp_path: Path) -> None:
    processes = Processes(tmp_path)
    try:
        dead_storage = azurite_connection_string(free_port())  # nothing listens there
        hub = processes.hub("hub-no-storage", {"AzureWebJobsStorage": dead_storage, **AUTH_OFF})
        deep = httpx.get(f"{hub.url}/health", timeout=10)
        live = httpx.get(f"{hub.url}/health/live", timeout=10)
    finally:
        processes.stop_all()
    assert deep.status_code == 503
    assert deep.json()["storage"]["ok"] is False
    assert deep.json()["status"] == "unhealthy"
    assert live.status_code == 200


def test_requests_and_upstream_calls_become_health_samples_in_table_storage(
    tmp_path: Path, storage_connection_string: str, notes_upstream: Child
) -> None:
    processes = Processes(tmp_path)
    table = "healthsamplestest"
    env = {
        "AzureWebJobsStorage": storage_connection_string,
        "MCPHUB_SERVER_NOTES__URL": f"{notes_upstream.url}/mcp",
        "MCPHUB_HEALTH_TABLE": table,
        "MCPHUB_HEALTH_FLUSH_SECONDS": "0.2",
        "MCPHUB_REGION": "westeurope",
        **AUTH_OFF,
    }
    scopes: set[str] = set()
    try:
        hub = processes.hub("hub-samples", env)
        session = httpx.post(f"{hub.url}/mcp/notes", json=INIT, headers=HEADERS).headers["mcp-session-id"]
        headers = {**HEADERS, "Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"}
        deadline = time.monotonic() + 15
        with TableClient.from_connection_string(storage_connection_string, table_name=table) as client:
            while time.monotonic() < deadline and not {"hub", "up:notes"} <= scopes:
                # Each request may start a flush of what the previous ones recorded.
                httpx.post(f"{hub.url}/mcp/notes", json={"jsonrpc": "2.0", "id": 2, "method": "ping"}, headers=headers)
                rows: list[dict[str, Any]] = []
                try:
                    rows = [dict(e) for e in client.list_entities()]
                except ResourceNotFoundError:  # the table appears with the first flush
                    rows = []
                scopes = {row["scope"] for row in rows if row["region"] == "westeurope"}
    finally:
        processes.stop_all()
    assert {"hub", "up:notes"} <= scopes
