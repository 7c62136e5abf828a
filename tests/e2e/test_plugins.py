"""The three built-in plugins, configured only by environment variables, seen by the official MCP
SDK client of both eras through a real hub (local Functions host, Azurite) to the real notes server."""

from __future__ import annotations

from collections.abc import Iterator

import mcp_types as types
import pytest
from mcp import Client

from infra.processes import AUTH_OFF, Child, Processes, azurite_connection_string

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]
TOKEN = "ghp_" + "Zx9Yw8Vu7T" * 4
PLUGINS = {
    "MCPHUB_PLUGIN_SCHEMA__MODULE": "schema",
    "MCPHUB_PLUGIN_SCHEMA__PRIORITY": "10",
    "MCPHUB_PLUGIN_DENY__MODULE": "deny",
    "MCPHUB_PLUGIN_DENY__SERVERS": "notes",
    "MCPHUB_PLUGIN_DENY__CONFIG__WIPE__TOOL": "delete_all_notes",
    "MCPHUB_PLUGIN_DENY__CONFIG__SHOUT__TOOL": "echo",
    "MCPHUB_PLUGIN_DENY__CONFIG__SHOUT__PATTERN": "(?i)forbidden",
    "MCPHUB_PLUGIN_DENY__CONFIG__SHOUT__MESSAGE": "echo may not say that word",
    "MCPHUB_PLUGIN_PII__MODULE": "redact",
}


@pytest.fixture(scope="module")
def plugged_hub(processes: Processes, azurite: Child, notes_upstream: Child) -> Iterator[Child]:
    env = {
        "AzureWebJobsStorage": azurite_connection_string(azurite.port),
        "MCPHUB_SERVER_NOTES__URL": f"{notes_upstream.url}/mcp",
        **AUTH_OFF,
        **PLUGINS,
    }
    hub = processes.hub("hub-plugins", env)
    yield hub
    hub.stop()


@pytest.fixture(params=["legacy", "2026-07-28"])
def era(request: pytest.FixtureRequest) -> str:
    return request.param


def text(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


async def test_results_reach_the_client_redacted_and_whole(plugged_hub: Child, era: str) -> None:
    said = f"deploy with {TOKEN} and tell ada@example.com " + "x" * 10_000
    async with Client(f"{plugged_hub.url}/mcp", mode=era) as client:
        echoed = await client.call_tool("notes__echo", {"text": said})
        await client.call_tool("notes__add_note", {"name": f"secret-{era}", "text": said})
        read = await client.read_resource(f"mcphub://notes/note://secret-{era}")
    assert text(echoed) == "deploy with [redacted:github_token] and tell [redacted:email] " + "x" * 10_000
    content = read.contents[0]
    assert isinstance(content, types.TextResourceContents)
    assert TOKEN not in content.text
    assert content.text.endswith("x" * 10_000)


async def test_calls_refused_by_a_plugin_are_tool_errors_the_model_can_read(plugged_hub: Child, era: str) -> None:
    async with Client(f"{plugged_hub.url}/mcp", mode=era) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        misfit = await client.call_tool("notes__add_note", {"name": "n"})
        denied = await client.call_tool("notes__echo", {"text": "a FORBIDDEN word"})
        fine = await client.call_tool("notes__echo", {"text": "a fine word"})
    assert "notes__delete_all_notes" not in tools
    assert "notes__echo" in tools
    assert misfit.is_error
    assert "arguments.text is required" in text(misfit)
    assert denied.is_error
    assert text(denied) == "echo may not say that word"
    assert not fine.is_error
    assert text(fine) == "a fine word"


async def test_the_transparent_route_stays_a_faithful_pass_through(plugged_hub: Child, era: str) -> None:
    async with Client(f"{plugged_hub.url}/mcp/notes", mode=era) as client:
        echoed = await client.call_tool("echo", {"text": f"raw {TOKEN}"})
        tools = {tool.name for tool in (await client.list_tools()).tools}
    assert text(echoed) == f"raw {TOKEN}"
    assert "delete_all_notes" in tools
