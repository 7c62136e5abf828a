"""An instance failing its own callers leaves HAProxy's rotation through `/health` alone, within
seconds and with no routing controller: its storage still answers, so before `SelfCheck` its
`/health` stayed 200 and only the timer's prediction could drain it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from infra.processes import AUTH_OFF, Child, Processes, free_port
from infra.proxy import start_proxy
from shared.health.haproxy import HaproxyController
from tests.e2e.clients import start_regions
from tests.wire import HEADERS

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.anyio]

MODERN = "2026-07-28"
META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
}


@pytest.mark.timeout(120)
async def test_an_instance_answering_most_calls_with_5xx_is_taken_out_within_seconds_and_comes_back(
    tmp_path: Path, storage_connection_string: str, notes_upstream: Child
) -> None:
    processes = Processes(tmp_path)
    faults = tmp_path / "a-faults.json"
    faults.write_text("{}")
    ports, admin = {"a": free_port(), "b": free_port()}, free_port()
    common = {
        "AzureWebJobsStorage": storage_connection_string,
        "MCPHUB_SERVER_NOTES__URL": f"{notes_upstream.url}/mcp",
        "MCPHUB_HEALTH_FAILING_HOLD_SECONDS": "5",
        **AUTH_OFF,  # routing kind "none": no controller, only HAProxy's checks of /health
    }
    try:
        start_regions(processes, common, ports, faults)
        proxy = start_proxy(processes, ports, admin_port=admin)
        haproxy = HaproxyController("127.0.0.1", admin)
        limits = httpx.Limits(max_keepalive_connections=0)  # every call balanced anew
        async with httpx.AsyncClient(base_url=proxy.url, timeout=10, limits=limits) as http:
            n = 0

            async def call() -> bool:
                nonlocal n
                n += 1
                params = {"name": "notes__echo", "arguments": {"text": "x"}, "_meta": META}
                body = {"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": params}
                head = {
                    **HEADERS,
                    "MCP-Protocol-Version": MODERN,
                    "Mcp-Method": "tools/call",
                    "Mcp-Name": "notes__echo",
                }
                answer = await http.post("/mcp", json=body, headers=head)
                return answer.status_code == 200 and '"result"' in answer.text

            async def serving() -> dict[str, bool]:
                return {o.name: o.serving for o in await haproxy.origins()}

            assert all([await call() for _ in range(10)])
            assert await serving() == {"a": True, "b": True}
            assert (await http.get(f"http://127.0.0.1:{ports['a']}/health")).status_code == 200

            faults.write_text(json.dumps({"error_rate": 0.9}))  # /health itself is left alone
            began, failed = time.monotonic(), 0
            while (await serving())["a"]:
                failed += not await call()
                assert time.monotonic() - began < 10, "A was never taken out of rotation"
            took = time.monotonic() - began
            health = await http.get(f"http://127.0.0.1:{ports['a']}/health")
            assert health.status_code == 503
            assert health.json()["requests"]["failing"] is True
            assert health.json()["storage"]["ok"] is True
            assert took < 3.0, f"taken out after {took:.1f} s"
            assert all([await call() for _ in range(20)]), "calls failed after A left"

            faults.write_text("{}")  # A recovers; after its hold it answers 200 and HAProxy takes it back
            back = time.monotonic() + 30
            while not (await serving())["a"]:
                assert time.monotonic() < back, "A never came back"
                assert await call()
            assert all([await call() for _ in range(20)])
    finally:
        processes.stop_all()
    print(f"taken out {took:.2f} s after the faults began, {failed} failed calls")  # noqa: T201 - the figure
