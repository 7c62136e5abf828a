"""Handshake-era clients, through `/mcp`, to a 2026-07-28-only upstream that asks for input mid-call.

The upstream answers a call with `input_required`; the hub asks the client with requests on the
call's stream, as its era expects, and retries the call upstream with the answers. Clients: the
Python SDK client in its handshake mode and the TypeScript SDK client (1.x). Two hub instances
share one Azurite, behind a transport that alternates between them, so the client's answers land
on the instance that did not start the call at least once. The upstream is the conformance
fixture served as a server of 2026-07-28 only (it refuses `initialize`).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from infra.balancer import AlternatingTransport
from infra.processes import AUTH_OFF, NODE, Processes

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]
HANDSHAKE = "legacy"  # the SDK's handshake-era mode (2025-11-25); its default, "auto", picks 2026-07-28 here
TS_CLIENT = Path(__file__).parent / "clients_js" / "ts_input_client.mjs"


@pytest.fixture(scope="module")
def modern_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Processes]:
    processes = Processes(Path(tmp_path_factory.mktemp("modern-upstream")))
    try:
        yield processes
    finally:
        processes.stop_all()


@pytest.fixture(scope="module")
def world(modern_processes: Processes, storage_connection_string: str) -> dict[str, Any]:
    processes = modern_processes
    fixture = processes.demo("conformance-2026")
    env = {
        "AzureWebJobsStorage": storage_connection_string,
        "MCPHUB_SERVER_NEW__URL": f"{fixture.url}/mcp",
        "MCPHUB_HUB_TOOLS": "false",
        **AUTH_OFF,
    }
    return {"fixture": fixture, "a": processes.hub("hub-modern-a", env), "b": processes.hub("hub-modern-b", env)}


async def sample(context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
    content = types.TextContent(type="text", text="Paris, said the client's model")
    return types.CreateMessageResult(role="assistant", content=content, model="stand-in")


async def refuse(context: Any, params: types.CreateMessageRequestParams) -> types.ErrorData:
    return types.ErrorData(code=-1, message="the user declined to sample")


async def elicit(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
    properties = getattr(params, "requested_schema", {}).get("properties", {})
    return types.ElicitResult(action="accept", content=dict.fromkeys(properties, "Ada"))


async def roots(context: Any) -> types.ListRootsResult:
    root = types.Root.model_validate({"uri": "file:///home/dev/project", "name": "project"})
    return types.ListRootsResult(roots=[root])


def text(result: Any) -> str:
    return json.dumps(result.model_dump(mode="json"))


async def test_the_fixture_refuses_the_handshake_so_only_the_bridge_can_reach_it(world: dict[str, Any]) -> None:
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    headers = {"Accept": "application/json, text/event-stream"}
    async with httpx.AsyncClient(timeout=10) as http:
        refused = await http.post(f"{world['fixture'].url}/mcp", json=initialize, headers=headers)
    assert refused.status_code == 400
    assert "2026-07-28" in refused.json()["error"]["data"]["supported"]


@pytest.mark.parametrize("spread", ["one instance", "alternating"])
async def test_a_handshake_era_python_client_completes_a_modern_servers_sampling_elicitation_and_roots(
    world: dict[str, Any], spread: str
) -> None:
    ports = [world["a"].port] if spread == "one instance" else [world["a"].port, world["b"].port]
    transport = AlternatingTransport(ports)
    async with (
        httpx2.AsyncClient(transport=transport, timeout=30) as http,
        Client(
            streamable_http_client(f"{world['a'].url}/mcp", http_client=http),
            mode=HANDSHAKE,
            sampling_callback=sample,
            elicitation_callback=elicit,
            list_roots_callback=roots,
        ) as client,
    ):
        assert client.protocol_version == "2025-11-25"
        offered = {tool.name for tool in (await client.list_tools()).tools}
        assert "new__test_input_required_result_sampling" in offered
        sampled = await client.call_tool("new__test_input_required_result_sampling", {})
        assert "The model said: Paris, said the client's model" in text(sampled)
        elicited = await client.call_tool("new__test_input_required_result_elicitation", {})
        assert "Hello, Ada!" in text(elicited)
        listed = await client.call_tool("new__test_input_required_result_list_roots", {})
        assert "Roots: file:///home/dev/project" in text(listed)
        rounds = await client.call_tool("new__test_input_required_result_multi_round", {})
        assert "Completed: color Ada" in text(rounds)
        several = await client.call_tool("new__test_input_required_result_multiple_inputs", {})
        assert "All inputs received: Ada" in text(several)
        state = await client.call_tool("new__test_input_required_result_request_state", {})
        assert "state-ok: confirmed" in text(state)
        prompt = await client.get_prompt("new__test_input_required_result_prompt")
        assert "Use this context: Ada" in text(prompt)
        plain = await client.call_tool("new__test_simple_text", {})
        assert not plain.is_error
    assert set(transport.seen) == set(ports)


def test_the_typescript_client_completes_them_with_its_answers_on_either_instance(world: dict[str, Any]) -> None:
    ports = f"{world['a'].port},{world['b'].port}"
    run = subprocess.run(
        [str(NODE), str(TS_CLIENT), f"{world['a'].url}/mcp", ports, "new__"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    printed = json.loads(run.stdout.strip().splitlines()[-1])
    assert printed["results"] == {
        "sampling": "The model said: Paris, said the TypeScript client",
        "elicitation": "Hello, Lin!",
        "list_roots": "Roots: file:///home/dev/ts-project",
        "multi_round": "Completed: color Lin",
        "multiple_inputs": "All inputs received: Lin",
    }
    assert set(printed["seen"]) == {str(world["a"].port), str(world["b"].port)}


async def test_a_client_that_cannot_sample_gets_32021_and_one_that_refuses_gets_a_clear_error(
    world: dict[str, Any],
) -> None:
    async with Client(f"{world['a'].url}/mcp", mode=HANDSHAKE) as client:
        assert client.protocol_version == "2025-11-25"
        with pytest.raises(MCPError) as missing:
            await client.call_tool("new__test_input_required_result_sampling", {})
        assert missing.value.error.code == -32021
        assert missing.value.error.data == {"requiredCapabilities": {"sampling": {}}}
    async with Client(f"{world['b'].url}/mcp", mode=HANDSHAKE, sampling_callback=refuse) as client:
        with pytest.raises(MCPError) as refused:
            await client.call_tool("new__test_input_required_result_sampling", {})
        assert "the user declined to sample" in refused.value.error.message
        assert "'new'" in refused.value.error.message
        plain = await client.call_tool("new__test_simple_text", {})  # the session goes on
        assert not plain.is_error
