"""The official MCP SDK client, through the hub (real local host, Azurite), to real SDK upstreams."""

from __future__ import annotations

from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.session import MessageHandlerFnT
from mcp.shared.exceptions import MCPError

from infra.processes import AUTH_OFF, Child, Processes

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]
LEGACY = "legacy"  # the initialize handshake; the hub then negotiates 2025-11-25
MODERN = "2026-07-28"  # stateless: no handshake, no session


@pytest.fixture(params=[LEGACY, MODERN])
def era(request: pytest.FixtureRequest) -> str:
    return request.param


async def accept_sampling(context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
    return types.CreateMessageResult(
        role="assistant", content=types.TextContent(type="text", text="A Good Title"), model="test-model"
    )


async def confirm(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
    return types.ElicitResult(action="accept", content={"confirm": True})


def text(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


async def test_tools_of_every_upstream_are_listed_with_namespaces(hub: Child, era: str) -> None:
    async with Client(f"{hub.url}/mcp", mode=era) as client:
        assert client.protocol_version == ("2025-11-25" if era == LEGACY else MODERN)
        names = {tool.name for tool in (await client.list_tools()).tools}
    assert {"notes__add_note", "notes__echo", "clock__now", "clock__wait"} <= names


async def test_tool_call_reaches_the_right_upstream(hub: Child, era: str) -> None:
    async with Client(f"{hub.url}/mcp", mode=era) as client:
        await client.call_tool("notes__add_note", {"name": "e2e", "text": "through the hub"})
        result = await client.read_resource("mcphub://notes/note://e2e")
    content = result.contents[0]
    assert isinstance(content, types.TextResourceContents)
    assert content.text == "through the hub"
    assert content.uri == "mcphub://notes/note://e2e"


async def test_prompts_and_resource_templates_are_aggregated(hub: Child, era: str) -> None:
    async with Client(f"{hub.url}/mcp", mode=era) as client:
        prompts = {p.name for p in (await client.list_prompts()).prompts}
        templates = {t.uri_template for t in (await client.list_resource_templates()).resource_templates}
        prompt = await client.get_prompt("notes__summarize", {"name": "welcome"})
    assert "notes__summarize" in prompts
    assert "mcphub://notes/note://{name}" in templates
    assert isinstance(prompt.messages[0].content, types.TextContent)
    assert "Welcome to MCPHub" in prompt.messages[0].content.text


async def test_progress_and_log_messages_stream_to_the_client(hub: Child, era: str) -> None:
    seen_progress: list[float] = []
    logs: list[Any] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen_progress.append(progress)

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.append(params.data)

    # 2026-07-28 delivers log messages only to requests that opt in with a level.
    async with Client(f"{hub.url}/mcp", mode=era, logging_callback=on_log, log_level="info") as client:
        result = await client.call_tool("notes__count_slowly", {"to": 3, "delay": 0.01}, progress_callback=on_progress)
    assert text(result) == "counted to 3"
    assert seen_progress == [1, 2, 3]
    assert logs == ["counted 1", "counted 2", "counted 3"]


async def test_sampling_request_is_relayed_to_the_client_and_answered(hub: Child) -> None:
    """Server-to-client requests exist only in the handshake era."""
    async with Client(f"{hub.url}/mcp", mode=LEGACY, sampling_callback=accept_sampling) as client:
        result = await client.call_tool("notes__title_for", {"note": "welcome"})
    assert text(result) == "A Good Title"


async def test_elicitation_is_relayed_to_the_client_and_answered(hub: Child) -> None:
    async with Client(f"{hub.url}/mcp/notes", mode=LEGACY, elicitation_callback=confirm) as client:
        await client.call_tool("add_note", {"name": "doomed", "text": "x"})
        result = await client.call_tool("delete_all_notes", {})
    assert text(result) == "all notes deleted"


async def test_per_server_endpoint_behaves_like_the_upstream_itself(
    hub: Child, clock_upstream: Child, era: str
) -> None:
    async with Client(f"{clock_upstream.url}/mcp", mode=era) as direct:
        direct_tools = [t.model_dump() for t in (await direct.list_tools()).tools]
        direct_info = direct.server_info
    async with Client(f"{hub.url}/mcp/clock", mode=era) as proxied:
        proxied_tools = [t.model_dump() for t in (await proxied.list_tools()).tools]
        proxied_info = proxied.server_info
    assert proxied_tools == direct_tools
    assert proxied_info == direct_info


async def test_unknown_tool_is_a_json_rpc_error_naming_it(hub: Child, era: str) -> None:
    async with Client(f"{hub.url}/mcp", mode=era) as client:
        with pytest.raises(MCPError) as caught:
            await client.call_tool("nowhere__nothing", {})
    assert caught.value.error.code == types.INVALID_PARAMS
    assert "nowhere__nothing" in caught.value.error.message


async def test_cancelling_a_call_stops_it_and_the_session_keeps_working(hub: Child, era: str) -> None:
    async with Client(f"{hub.url}/mcp", mode=era) as client:
        with anyio.move_on_after(0.5) as scope:
            await client.call_tool("clock__wait", {"seconds": 20})
        assert scope.cancelled_caught
        assert text(await client.call_tool("notes__echo", {"text": "still here"})) == "still here"


def hub_over_own_notes(processes: Processes, storage_connection_string: str, name: str) -> Child:
    """A hub over a `notes` upstream of its own: for tests that change its tool list."""
    notes = processes.demo("notes")
    settings = {"AzureWebJobsStorage": storage_connection_string, "MCPHUB_SERVER_NOTES__URL": f"{notes.url}/mcp"}
    return processes.hub(name, {**settings, **AUTH_OFF})


def tool_list_change_heard() -> tuple[anyio.Event, MessageHandlerFnT]:
    """An event set when a client's message handler hears `notifications/tools/list_changed`."""
    heard = anyio.Event()

    async def on_message(message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            heard.set()

    return heard, on_message


async def test_upstream_tool_list_change_reaches_the_client_and_refreshes_the_list(
    processes: Processes, storage_connection_string: str
) -> None:
    hub = hub_over_own_notes(processes, storage_connection_string, "hub-list-changed")
    changed, on_message = tool_list_change_heard()
    async with Client(f"{hub.url}/mcp", mode=LEGACY, message_handler=on_message) as client:
        before = {tool.name for tool in (await client.list_tools()).tools}
        await client.call_tool("notes__enable_word_count", {})
        with anyio.fail_after(10):
            await changed.wait()
        after = {tool.name for tool in (await client.list_tools()).tools}
    assert "notes__word_count" not in before
    assert after - before == {"notes__word_count"}


async def test_upstream_tool_list_change_reaches_every_connected_client_of_both_eras(
    processes: Processes, storage_connection_string: str
) -> None:
    """A change made by one client reaches the others: a 2025-11-25 session on its GET stream and a
    2026-07-28 client through `subscriptions/listen` (what `make loadtest` relies on at scale)."""
    hub = hub_over_own_notes(processes, storage_connection_string, "hub-list-changed-all")
    legacy_heard, on_message = tool_list_change_heard()
    async with (
        Client(f"{hub.url}/mcp", mode=LEGACY, message_handler=on_message) as legacy,
        Client(f"{hub.url}/mcp", mode=MODERN) as modern,
        modern.listen(tools_list_changed=True) as subscription,
    ):
        await legacy.list_tools()  # the hub opens this session's upstream session (and its stream)
        async with Client(f"{hub.url}/mcp", mode=LEGACY) as changer:
            await changer.call_tool("notes__enable_word_count", {})
        with anyio.fail_after(10):
            await legacy_heard.wait()
            event = await anext(aiter(subscription))
        assert "notes__word_count" in {tool.name for tool in (await modern.list_tools()).tools}
        assert "notes__word_count" in {tool.name for tool in (await legacy.list_tools()).tools}
    assert type(event).__name__ == "ToolsListChanged"
