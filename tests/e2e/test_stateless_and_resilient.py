"""Any instance serves any session; a dead upstream fails only its own calls."""

from __future__ import annotations

import asyncio
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
from infra.processes import AUTH_OFF, Child, Processes

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


async def test_session_created_on_instance_a_is_served_by_instance_b(hub: Child, hub_b: Child) -> None:
    transport = AlternatingTransport([hub.port, hub_b.port])

    async def sampling(context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text="Cross-instance"), model="m"
        )

    async with (
        httpx2.AsyncClient(transport=transport, timeout=30) as http,
        Client(
            streamable_http_client(f"{hub.url}/mcp", http_client=http), mode="legacy", sampling_callback=sampling
        ) as client,
    ):
        for index in range(3):
            await client.call_tool("notes__add_note", {"name": f"n{index}", "text": "x"})
        tools = await client.list_tools()
        # The sampling request streams from one instance; the answer is posted to the other.
        titled = await client.call_tool("notes__title_for", {"note": "n0"})
    assert {hub.port, hub_b.port} <= set(transport.seen)
    assert any(tool.name == "notes__add_note" for tool in tools.tools)
    block = titled.content[0]
    assert isinstance(block, types.TextContent)
    assert block.text == "Cross-instance"


@pytest.fixture(scope="module")
def fragile(tmp_path_factory: pytest.TempPathFactory, storage_connection_string: str) -> Iterator[dict[str, Child]]:
    processes = Processes(Path(tmp_path_factory.mktemp("fragile")))
    try:
        notes, victim = processes.demo("notes"), processes.demo("clock")
        env = {
            "AzureWebJobsStorage": storage_connection_string,
            "MCPHUB_SERVER_NOTES__URL": f"{notes.url}/mcp",
            "MCPHUB_SERVER_VICTIM__URL": f"{victim.url}/mcp",
            "MCPHUB_SERVER_VICTIM__CONNECT_TIMEOUT": "1",
            "MCPHUB_LIST_TTL_SECONDS": "0",
            **AUTH_OFF,
        }
        yield {"notes": notes, "victim": victim, "hub": processes.hub("hub-fragile", env)}
    finally:
        processes.stop_all()


async def test_dead_upstream_keeps_its_last_good_tools_and_fails_only_its_own_calls(
    fragile: dict[str, Child],
) -> None:
    async with Client(f"{fragile['hub'].url}/mcp", mode="legacy") as client:
        before = {tool.name for tool in (await client.list_tools()).tools}
        assert "victim__now" in before
        fragile["victim"].stop()

        after = await client.list_tools()
        assert {tool.name for tool in after.tools} == before
        assert after.meta is not None
        assert after.meta.get("io.mcphub/stale") == ["victim"]

        with pytest.raises(MCPError) as caught:
            await client.call_tool("victim__now", {})
        assert "'victim'" in caught.value.error.message

        echoed = await client.call_tool("notes__echo", {"text": "unaffected"})
        block = echoed.content[0]
        assert isinstance(block, types.TextContent)
        assert block.text == "unaffected"


async def test_concurrent_stateless_clients_of_one_user_with_the_same_request_ids_all_get_their_answer(
    hub: Child,
) -> None:
    """They share the hub's pooled upstream session; their IDs must not collide on it."""
    meta = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
    }
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "tools/call",
        "Mcp-Name": "notes__echo",
    }

    async def call(http: httpx.AsyncClient, text: str) -> str:
        params = {"name": "notes__echo", "arguments": {"text": text}, "_meta": meta}
        body = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params}
        response = await http.post(f"{hub.url}/mcp", json=body, headers=headers)
        answer = response.json()
        assert answer["id"] == 7
        return str(answer["result"]["content"][0]["text"])

    texts = [f"client {n}" for n in range(6)]
    async with httpx.AsyncClient(timeout=5) as http:
        answers = await asyncio.gather(*(call(http, text) for text in texts))
    assert answers == texts
