"""Two local regions behind HAProxy: region A degrades, the health timer drains it through the
HAProxy runtime API, the session carries on in region B, and A is restored once it is healthy."""

from __future__ import annotations

import asyncio
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


def message(method: str, params: dict[str, object], id_: int) -> dict[str, object]:
    return {"jsonrpc": "2.0", "id": id_, "method": method, "params": params}


@pytest.mark.timeout(120)
async def test_a_degrading_region_is_drained_the_session_continues_and_the_region_comes_back(
    tmp_path: Path, storage_connection_string: str, notes_upstream: Child
) -> None:
    processes = Processes(tmp_path)
    faults = tmp_path / "region-a-faults.json"
    ports = {"a": free_port(), "b": free_port()}
    admin = free_port()
    common = {
        "AzureWebJobsStorage": storage_connection_string,
        "MCPHUB_SERVER_NOTES__URL": f"{notes_upstream.url}/mcp",
        "MCPHUB_GRANTS_TABLE": "failovergrants",
        "MCPHUB_HEALTH_TABLE": "failoverhealth",
        "MCPHUB_HEALTH_FLUSH_SECONDS": "0.2",
        "MCPHUB_HEALTH_SCHEDULE": "*/1 * * * * *",
        "MCPHUB_ROUTING__KIND": "haproxy",
        "MCPHUB_ROUTING__HAPROXY_ADMIN": f"127.0.0.1:{admin}",
        "MCPHUB_ROUTING__WINDOW_SECONDS": "2",
        "MCPHUB_ROUTING__HISTORY_SECONDS": "4",
        "MCPHUB_ROUTING__PROPAGATION_SECONDS": "1",
        "MCPHUB_ROUTING__COOLDOWN_SECONDS": "3",
        "MCPHUB_ROUTING__RESTORE_AFTER": "2",
        # An instance failing its callers holds /health at 503 this long: HAProxy checks every
        # 0.5 s, so 5 s is ten checks (Front Door's 30 s probes need the default 60 s).
        "MCPHUB_HEALTH_FAILING_HOLD_SECONDS": "5",
        **AUTH_OFF,
    }
    try:
        start_regions(processes, common, ports, faults)
        proxy = start_proxy(processes, ports, admin_port=admin)
        router = HaproxyController("127.0.0.1", admin)
        async with httpx.AsyncClient(base_url=proxy.url, timeout=10) as http:
            init = {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "drill", "version": "1"},
            }
            answer = await http.post("/mcp", json=message("initialize", init, 1), headers=HEADERS)
            headers = {
                **HEADERS,
                "Mcp-Session-Id": answer.headers["mcp-session-id"],
                "MCP-Protocol-Version": "2025-11-25",
            }

            async def call(n: int) -> bool:
                params = {"name": "notes__echo", "arguments": {"text": f"call {n}"}}
                response = await http.post("/mcp", json=message("tools/call", params, n), headers=headers)
                return response.status_code == 200 and "error" not in response.json()

            assert all([await call(n) for n in range(2, 12)])  # both regions serve the session
            faults.write_text(json.dumps({"error_rate": 0.6}))
            deadline, n = time.monotonic() + 40, 100
            while time.monotonic() < deadline and all(o.enabled for o in await router.origins()):
                await call(n := n + 1)
                await asyncio.sleep(0.02)
            states = {o.name: o.enabled for o in await router.origins()}
            assert states == {"a": False, "b": True}, "region A was not drained"
            after = [await call(n := n + 1) for _ in range(30)]
            faults.write_text("{}")
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline and not all(o.enabled for o in await router.origins()):
                after.append(await call(n := n + 1))  # traffic goes on while A recovers
                await asyncio.sleep(0.05)
            assert all(o.enabled for o in await router.origins()), "region A was not restored"
            after.extend([await call(n := n + 1) for _ in range(20)])  # both regions again
            assert all(after), f"{after.count(False)} of {len(after)} calls failed after the drain"
            routing = (await http.get(f"http://127.0.0.1:{ports['b']}/routing")).json()
        actions = [(d["action"], d["region"], d["applied"]) for d in routing["decisions"]]
        assert ("drain", "a", True) in actions
        assert ("restore", "a", True) in actions
    finally:
        processes.stop_all()
