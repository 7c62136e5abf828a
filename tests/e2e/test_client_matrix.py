"""Clients nobody here wrote, through the hub, to a server nobody here wrote.

The official reference server (npm @modelcontextprotocol/server-everything) offers its sampling,
elicitation and roots tools only to clients that declare those capabilities. Through the hub each
client must be offered exactly what the server offers that client alone, and every tool it is
offered must work: the Python SDK client (both eras), the TypeScript SDK client and the MCP
Inspector CLI, on `/mcp` and on `/mcp/everything`.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from mcp import Client

from infra.processes import AUTH_OFF, NODE, ROOT, Child, Processes

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]
PREFIX = "everything__"
TS_CLIENT = Path(__file__).parent / "clients_js" / "ts_client.mjs"
INSPECTOR = (
    ROOT / "node_modules" / "@modelcontextprotocol" / "inspector" / "clients" / "launcher" / "build" / "index.js"
)
CAPABILITY_TOOLS = {"trigger-sampling-request", "trigger-elicitation-request", "get-roots-list"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, storage_connection_string: str) -> Iterator[dict[str, Child]]:
    processes = Processes(Path(tmp_path_factory.mktemp("matrix")))
    try:
        everything = processes.everything()
        env = {
            "AzureWebJobsStorage": storage_connection_string,
            "MCPHUB_SERVER_EVERYTHING__URL": f"{everything.url}/mcp",
            "MCPHUB_HUB_TOOLS": "false",  # compared with the server alone: only its tools
            **AUTH_OFF,
        }
        yield {"everything": everything, "hub": processes.hub("hub-matrix", env)}
    finally:
        processes.stop_all()


def urls(world: dict[str, Child]) -> dict[str, tuple[str, str]]:
    """target -> (URL, tool name prefix)"""
    return {
        "alone": (f"{world['everything'].url}/mcp", ""),
        "/mcp": (f"{world['hub'].url}/mcp", PREFIX),
        "/mcp/everything": (f"{world['hub'].url}/mcp/everything", ""),
    }


async def sample(context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
    content = types.TextContent(type="text", text="sampled by the Python client")
    return types.CreateMessageResult(role="assistant", content=content, model="stand-in")


async def python_tools(url: str, prefix: str, *, sampling: bool, mode: str = "legacy") -> set[str]:
    async with Client(url, mode=mode, sampling_callback=sample if sampling else None) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
    return {name.removeprefix(prefix) for name in names}


def typescript(url: str, prefix: str, *, sampling: bool) -> dict[str, Any]:
    argv = [str(NODE), str(TS_CLIENT), url, "sampling" if sampling else "plain", prefix]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def inspector(url: str, *args: str) -> dict[str, Any]:
    argv = [str(NODE), str(INSPECTOR), "--cli", url, "--transport", "http", *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-1000:] + done.stderr[-1000:]
    return json.loads(done.stdout)


@pytest.mark.parametrize("sampling", [False, True], ids=["plain", "sampling"])
async def test_python_client_is_offered_what_the_server_offers_it_alone(
    world: dict[str, Child], sampling: bool
) -> None:
    targets = urls(world)
    alone = await python_tools(*targets["alone"], sampling=sampling)
    assert ("trigger-sampling-request" in alone) is sampling  # the reference server's own rule
    for route in ("/mcp", "/mcp/everything"):
        assert await python_tools(*targets[route], sampling=sampling) == alone, route


async def test_lists_follow_each_caller_whichever_client_listed_first(world: dict[str, Child]) -> None:
    url, prefix = urls(world)["/mcp"]
    for sampling in (False, True, False, True):
        offered = await python_tools(url, prefix, sampling=sampling)
        assert ("trigger-sampling-request" in offered) is sampling


async def test_stateless_python_client_is_offered_what_it_declared_it_can_answer(world: dict[str, Child]) -> None:
    # The reference server speaks only the handshake era: a 2026-07-28 client of /mcp reaches it
    # through the hub's pooled session opened with the client's own sampling, elicitation and
    # roots capabilities, and the hub bridges its requests (input_required): the same tools as a
    # handshake-era client declaring the same, and none of them to a client declaring none.
    url, prefix = urls(world)["/mcp"]
    plain = await python_tools(*urls(world)["alone"], sampling=False)
    assert await python_tools(url, prefix, sampling=False, mode="2026-07-28") == plain
    sampling = await python_tools(*urls(world)["alone"], sampling=True)
    assert await python_tools(url, prefix, sampling=True, mode="2026-07-28") == sampling
    async with Client(url, mode="2026-07-28", sampling_callback=sample) as client:
        result = await client.call_tool(f"{PREFIX}echo", {"message": "hi"})
        assert result.content[0] == types.TextContent(type="text", text="Echo: hi")
        sampled = await client.call_tool(f"{PREFIX}trigger-sampling-request", {"prompt": "hi", "maxTokens": 10})
    assert "sampled by the Python client" in json.dumps(sampled.model_dump(mode="json"))


async def test_python_client_sampling_through_the_hub_reaches_its_own_model(world: dict[str, Child]) -> None:
    for route in ("/mcp", "/mcp/everything"):
        url, prefix = urls(world)[route]
        async with Client(url, mode="legacy", sampling_callback=sample) as client:
            result = await client.call_tool(f"{prefix}trigger-sampling-request", {"prompt": "hi", "maxTokens": 10})
        assert "sampled by the Python client" in json.dumps(result.model_dump(mode="json")), route


@pytest.mark.parametrize("sampling", [False, True], ids=["plain", "sampling"])
def test_typescript_client_gets_what_it_gets_alone_and_every_call_works(
    world: dict[str, Child], sampling: bool
) -> None:
    targets = urls(world)
    alone = typescript(*targets["alone"], sampling=sampling)
    for route in ("/mcp", "/mcp/everything"):
        url, prefix = targets[route]
        seen = typescript(url, prefix, sampling=sampling)
        assert {name.removeprefix(prefix) for name in seen["tools"]} == set(alone["tools"]), route
        assert seen["echo"] == alone["echo"], route
        if sampling:
            assert "sampled by the TypeScript client" in json.dumps(seen["sampled"]), route


def test_inspector_cli_lists_and_calls_through_both_routes(world: dict[str, Child]) -> None:
    targets = urls(world)
    alone = inspector(targets["alone"][0], "--method", "tools/list")
    expected = {tool["name"] for tool in alone["tools"]}
    for route in ("/mcp", "/mcp/everything"):
        url, prefix = targets[route]
        listed = inspector(url, "--method", "tools/list")
        assert {tool["name"].removeprefix(prefix) for tool in listed["tools"]} == expected, route
        called = inspector(url, "--method", "tools/call", "--tool-name", f"{prefix}echo", "--tool-arg", "message=hi")
        assert called["content"] == [{"type": "text", "text": "Echo: hi"}], route
