"""Clients of one era, through `/mcp`, to upstreams of the other that ask the client mid-call.

A 2026-07-28 client to handshake-era upstreams: the upstream's requests (sampling, elicitation,
roots) reach the client as `input_required` results, and its retries carry the answers back.
Handshake-era clients (the Python SDK in its handshake mode, the TypeScript SDK 1.x) to an
upstream of 2026-07-28 only (the conformance fixture refusing `initialize`): its `input_required`
answers reach the client as requests on the call's stream, and the hub retries upstream.

Two hub instances share one Azurite, behind a transport that alternates between them, so every
retry or answer lands on the instance that did not start the call at least once. Upstreams: npm
server-everything (TypeScript SDK 1.x, a handshake-era server nobody here wrote) and the
conformance fixture in both forms.
"""

from __future__ import annotations

import json
import subprocess
import time
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
MODERN = "2026-07-28"
HANDSHAKE = "legacy"  # the SDK's handshake-era mode (2025-11-25); its default, "auto", picks 2026-07-28 here
TS_CLIENT = Path(__file__).parent / "clients_js" / "ts_input_client.mjs"


@pytest.fixture(scope="module")
def bridge_processes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Processes]:
    processes = Processes(Path(tmp_path_factory.mktemp("bridge")))
    try:
        yield processes
    finally:
        processes.stop_all()


@pytest.fixture(scope="module")
def world(bridge_processes: Processes, storage_connection_string: str) -> dict[str, Any]:
    processes = bridge_processes
    everything, fixture = processes.everything(), processes.demo("conformance-2025")
    modern = processes.demo("conformance-2026")
    env = {
        "AzureWebJobsStorage": storage_connection_string,
        "MCPHUB_SERVER_EVERYTHING__URL": f"{everything.url}/mcp",
        "MCPHUB_SERVER_OLD__URL": f"{fixture.url}/mcp",
        "MCPHUB_SERVER_NEW__URL": f"{modern.url}/mcp",
        "MCPHUB_SERVER_BRIDGED__URL": f"{modern.url}/mcp",
        "MCPHUB_SERVER_BRIDGED__BRIDGE_ERAS": "true",
        "MCPHUB_SERVER_EVERYBRIDGED__URL": f"{everything.url}/mcp",
        "MCPHUB_SERVER_EVERYBRIDGED__BRIDGE_ERAS": "true",
        "MCPHUB_HUB_TOOLS": "false",
        **AUTH_OFF,
    }
    return {
        "everything": everything,
        "fixture": fixture,
        "modern": modern,
        "a": processes.hub("hub-bridge-a", env),
        "b": processes.hub("hub-bridge-b", env),
        "env": env,
    }


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


def answering_client(url: str, http: httpx2.AsyncClient, mode: str = MODERN) -> Client:
    """An SDK client in `mode` that answers sampling, elicitation and roots."""
    return Client(
        streamable_http_client(url, http_client=http),
        mode=mode,
        sampling_callback=sample,
        elicitation_callback=elicit,
        list_roots_callback=roots,
    )


async def completes_the_fixtures_asking_tools(client: Client, prefix: str) -> None:
    """The conformance fixture's tools and prompt that ask the client, each completed."""
    sampled = await client.call_tool(f"{prefix}test_input_required_result_sampling", {})
    assert "The model said: Paris, said the client's model" in text(sampled)
    elicited = await client.call_tool(f"{prefix}test_input_required_result_elicitation", {})
    assert "Hello, Ada!" in text(elicited)
    listed = await client.call_tool(f"{prefix}test_input_required_result_list_roots", {})
    assert "Roots: file:///home/dev/project" in text(listed)
    rounds = await client.call_tool(f"{prefix}test_input_required_result_multi_round", {})
    assert "Completed: color Ada" in text(rounds)
    several = await client.call_tool(f"{prefix}test_input_required_result_multiple_inputs", {})
    assert "All inputs received: Ada" in text(several)
    prompt = await client.get_prompt(f"{prefix}test_input_required_result_prompt")
    assert "Use this context: Ada" in text(prompt)


def text(result: Any) -> str:
    return json.dumps(result.model_dump(mode="json"))


async def test_modern_client_is_offered_and_completes_everythings_sampling_and_elicitation_tools(
    world: dict[str, Any],
) -> None:
    transport = AlternatingTransport([world["a"].port, world["b"].port])
    async with (
        httpx2.AsyncClient(transport=transport, timeout=30) as http,
        answering_client(f"{world['a'].url}/mcp", http) as client,
    ):
        offered = {tool.name for tool in (await client.list_tools()).tools}
        assert {"everything__trigger-sampling-request", "everything__trigger-elicitation-request"} <= offered
        for _ in range(2):  # the call and its retry land on different instances, each way round
            sampled = await client.call_tool(
                "everything__trigger-sampling-request", {"prompt": "capital of France?", "maxTokens": 10}
            )
            assert "Paris, said the client's model" in text(sampled)
            elicited = await client.call_tool("everything__trigger-elicitation-request", {})
            assert not elicited.is_error, text(elicited)
            assert "Ada" in text(elicited)
    assert set(transport.seen) == {world["a"].port, world["b"].port}


@pytest.mark.parametrize("spread", ["one instance", "alternating"])
async def test_sampling_elicitation_and_roots_of_a_handshake_era_server_complete(
    world: dict[str, Any], spread: str
) -> None:
    ports = [world["a"].port] if spread == "one instance" else [world["a"].port, world["b"].port]
    async with (
        httpx2.AsyncClient(transport=AlternatingTransport(ports), timeout=30) as http,
        answering_client(f"{world['a'].url}/mcp", http) as client,
    ):
        await completes_the_fixtures_asking_tools(client, "old__")


async def test_a_modern_client_without_sampling_is_not_offered_it_and_gets_32021_if_asked(
    world: dict[str, Any],
) -> None:
    async with Client(f"{world['a'].url}/mcp", mode=MODERN) as client:
        offered = {tool.name for tool in (await client.list_tools()).tools}
        assert "everything__trigger-sampling-request" not in offered
        with pytest.raises(MCPError) as caught:
            await client.call_tool("old__test_input_required_result_sampling", {})
    assert caught.value.error.code == -32021
    assert caught.value.error.data == {"requiredCapabilities": {"sampling": {}}}


MODERN_HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": MODERN,
    "Mcp-Method": "tools/call",
}
ENVELOPE = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}},
    "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"},
}
TOOL = "old__test_input_required_result_elicitation"


async def raw_call(
    http: httpx.AsyncClient, url: str, request_id: int, tool: str = TOOL, arguments: Any = None, **retry: Any
) -> dict[str, Any]:
    """One tools/call as a 2026-07-28 client sends it, on the wire; the JSON-RPC answer."""
    meta = ENVELOPE if tool == TOOL else {**ENVELOPE, "io.modelcontextprotocol/clientCapabilities": {"sampling": {}}}
    params = {"name": tool, "arguments": arguments or {}, "_meta": meta, **retry}
    body = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}
    response = await http.post(f"{url}/mcp", json=body, headers={**MODERN_HEADERS, "Mcp-Name": tool})
    text = response.text
    if text.startswith("{"):
        return json.loads(text)
    events = [json.loads(line[5:]) for line in text.splitlines() if line.startswith("data:")]
    return next(event for event in events if event.get("id") == request_id)


ANSWER = {"action": "accept", "content": {"name": "Grace"}}


async def test_a_retry_whose_holding_instance_was_killed_fails_clearly_and_a_new_call_works(
    world: dict[str, Any], bridge_processes: Processes
) -> None:
    holder = bridge_processes.hub("hub-bridge-holder", world["env"])
    async with httpx.AsyncClient(timeout=30) as http:
        asked = (await raw_call(http, holder.url, 1))["result"]
        assert asked["resultType"] == "input_required"
        (key,) = asked["inputRequests"]
        holder.process.kill()  # scaled in, or crashed, while it waits for the client
        holder.process.wait(10)
        started = time.monotonic()
        failed = await raw_call(
            http, world["a"].url, 2, inputResponses={key: ANSWER}, requestState=asked["requestState"]
        )
        waited = time.monotonic() - started
        assert "error" in failed, failed
        assert "start the call again" in failed["error"]["message"]
        assert "cannot be resumed" in failed["error"]["message"]  # the fixture numbers no events
        assert "'old'" in failed["error"]["message"]
        assert waited < 15, waited  # bounded: the answer was not taken within CLAIM_SECONDS (5 s)
        # The client starts the call again, and it completes on the instances still running.
        again = (await raw_call(http, world["b"].url, 3))["result"]
        done = await raw_call(
            http,
            world["a"].url,
            4,
            inputResponses=dict.fromkeys(again["inputRequests"], ANSWER),
            requestState=again["requestState"],
        )
    assert done["result"]["content"][0]["text"] == "Hello, Grace!"


async def test_a_retry_whose_holder_was_killed_resumes_server_everythings_stream_and_completes(
    world: dict[str, Any], bridge_processes: Processes
) -> None:
    """server-everything keeps its streams' events (an InMemoryEventStore): the retry's instance
    resumes the call's stream from the killed holder's last event, on the holder's upstream session."""
    holder = bridge_processes.hub("hub-bridge-resumed", world["env"])
    tool, arguments = "everything__trigger-sampling-request", {"prompt": "capital of France?", "maxTokens": 10}
    sampled = {"role": "assistant", "content": {"type": "text", "text": "Paris, resumed"}, "model": "stand-in"}
    async with httpx.AsyncClient(timeout=60) as http:
        asked = (await raw_call(http, holder.url, 1, tool, arguments))["result"]
        assert asked["resultType"] == "input_required", asked
        (key,) = asked["inputRequests"]
        holder.process.kill()  # scaled in, or crashed, while it waits for the client
        holder.process.wait(10)
        started = time.monotonic()
        done = await raw_call(
            http, world["a"].url, 2, tool, arguments, inputResponses={key: sampled}, requestState=asked["requestState"]
        )
        waited = time.monotonic() - started
    assert "result" in done, done
    assert done["result"]["resultType"] == "complete"
    assert "Paris, resumed" in json.dumps(done["result"]["content"])
    assert waited < 15, waited  # CLAIM_SECONDS (5 s) to conclude the holder is gone, then the resumption
    print(f"a retry resumed after its holder was killed completed in {waited:.2f} s")  # noqa: T201 - the note's figure


async def test_a_tampered_or_replayed_request_state_is_refused(world: dict[str, Any]) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        asked = (await raw_call(http, world["a"].url, 1))["result"]
        (key,) = asked["inputRequests"]
        state = asked["requestState"]
        tampered = state[:-2] + ("AA" if not state.endswith("AA") else "BB")
        refused = await raw_call(http, world["b"].url, 2, inputResponses={key: ANSWER}, requestState=tampered)
        assert refused["error"]["code"] == -32602, refused
        done = await raw_call(http, world["b"].url, 3, inputResponses={key: ANSWER}, requestState=state)
        assert done["result"]["content"][0]["text"] == "Hello, Grace!"
        replayed = await raw_call(http, world["a"].url, 4, inputResponses={key: ANSWER}, requestState=state)
    assert "error" in replayed, replayed


async def test_the_fixture_refuses_the_handshake_so_only_the_bridge_can_reach_it(world: dict[str, Any]) -> None:
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    }
    headers = {"Accept": "application/json, text/event-stream"}
    async with httpx.AsyncClient(timeout=10) as http:
        refused = await http.post(f"{world['modern'].url}/mcp", json=initialize, headers=headers)
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
        answering_client(f"{world['a'].url}/mcp", http, HANDSHAKE) as client,
    ):
        assert client.protocol_version == "2025-11-25"
        offered = {tool.name for tool in (await client.list_tools()).tools}
        assert "new__test_input_required_result_sampling" in offered
        await completes_the_fixtures_asking_tools(client, "new__")
        state = await client.call_tool("new__test_input_required_result_request_state", {})
        assert "state-ok: confirmed" in text(state)
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


async def test_on_its_own_route_a_modern_only_server_refuses_a_handshake_client_as_it_would_alone(
    world: dict[str, Any],
) -> None:
    with pytest.raises(Exception) as refused:  # noqa: PT011 - the SDK raises what the upstream's 400 becomes
        async with Client(f"{world['a'].url}/mcp/new", mode=HANDSHAKE):
            pass
    with pytest.raises(Exception) as alone:  # noqa: PT011 - the same, straight to the upstream
        async with Client(f"{world['modern'].url}/mcp", mode=HANDSHAKE):
            pass
    assert type(refused.value) is type(alone.value)


async def test_with_bridge_eras_its_route_serves_a_handshake_client_and_bridges_what_it_asks(
    world: dict[str, Any],
) -> None:
    transport = AlternatingTransport([world["a"].port, world["b"].port])
    async with (
        httpx2.AsyncClient(transport=transport, timeout=30) as http,
        answering_client(f"{world['a'].url}/mcp/bridged", http, HANDSHAKE) as client,
    ):
        assert client.protocol_version == "2025-11-25"
        assert client.server_info is not None
        assert client.server_info.name == "mcp-conformance-fixture"
        assert client.server_capabilities.tools is not None
        assert not client.server_capabilities.tools.list_changed  # no stream would carry the change
        offered = {tool.name for tool in (await client.list_tools()).tools}
        assert "test_input_required_result_sampling" in offered  # the upstream's own names
        sampled = await client.call_tool("test_input_required_result_sampling", {})
        assert "The model said: Paris, said the client's model" in text(sampled)
        listed = await client.call_tool("test_input_required_result_list_roots", {})
        assert "Roots: file:///home/dev/project" in text(listed)
        rounds = await client.call_tool("test_input_required_result_multi_round", {})
        assert "Completed: color Ada" in text(rounds)
        read = await client.read_resource("test://static-text")
        assert "static" in text(read).lower()
    assert set(transport.seen) == {world["a"].port, world["b"].port}


async def modern_post(http: httpx.AsyncClient, url: str, method: str) -> httpx.Response:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": {"_meta": ENVELOPE}}
    return await http.post(url, json=body, headers={**MODERN_HEADERS, "Mcp-Method": method})


async def test_on_its_own_route_a_handshake_only_server_refuses_a_modern_client_as_it_would_alone(
    world: dict[str, Any],
) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        refused = await modern_post(http, f"{world['a'].url}/mcp/everything", "tools/list")
        alone = await modern_post(http, f"{world['everything'].url}/mcp", "tools/list")
    assert refused.status_code == alone.status_code == 400
    assert refused.json() == alone.json()


async def test_with_bridge_eras_a_modern_client_discovers_the_upstream_itself_without_its_streams(
    world: dict[str, Any],
) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        discovered = (await modern_post(http, f"{world['b'].url}/mcp/everybridged", "server/discover")).json()
        listen = (await modern_post(http, f"{world['b'].url}/mcp/everybridged", "subscriptions/listen")).json()
    result = discovered["result"]
    assert result["supportedVersions"] == [MODERN]
    assert "everything" in result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"]
    assert "tools" in result["capabilities"]
    assert "listChanged" not in result["capabilities"]["tools"]
    assert listen["error"]["code"] == -32601
    assert "/mcp" in listen["error"]["message"]


async def test_with_bridge_eras_its_route_serves_a_modern_client_and_bridges_what_it_asks(
    world: dict[str, Any],
) -> None:
    transport = AlternatingTransport([world["a"].port, world["b"].port])
    async with (
        httpx2.AsyncClient(transport=transport, timeout=30) as http,
        answering_client(f"{world['a'].url}/mcp/everybridged", http) as client,
    ):
        assert client.protocol_version == MODERN
        offered = {tool.name for tool in (await client.list_tools()).tools}
        assert {"echo", "trigger-sampling-request", "trigger-elicitation-request"} <= offered
        echoed = await client.call_tool("echo", {"message": "hi"})
        assert "hi" in text(echoed)
        for _ in range(2):  # the call and its retry land on different instances, each way round
            sampled = await client.call_tool("trigger-sampling-request", {"prompt": "capital?", "maxTokens": 10})
            assert "Paris, said the client's model" in text(sampled)
            elicited = await client.call_tool("trigger-elicitation-request", {})
            assert "Ada" in text(elicited)
    assert set(transport.seen) == {world["a"].port, world["b"].port}
