"""Tool search through the hub with the MCP SDK client: the meta-tools come first, a search in
plain words finds the right tool among the caller's own, call_tool runs it, and a tool of a
server the caller may not see is never found; a misspelt word is read as the tool word it stands
for, and the answer says so; when nothing fits it says so, and with sampling the client's model
restates the query in the tools' words first."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from tests.e2e.clients import client_for, signed_in_hub
from tests.e2e.test_assistant import Model

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, storage_connection_string: str) -> Iterator[dict[str, Any]]:
    env = {
        "AzureWebJobsStorage": storage_connection_string,
        "MCPHUB_TOOL_SEARCH": "first",
        "MCPHUB_SERVER_CLOCK__ROLES": "Hub.Admin",  # only admins see the clock
    }
    with signed_in_hub(Path(tmp_path_factory.mktemp("search")), "hub-search", env, upstreams=("notes", "clock")) as w:
        authority = w["authority"]
        w["admin"] = authority.mint(tenant="tenant-a", user="ada", roles=("Hub.User", "Hub.Admin"))
        w["user"] = authority.mint(tenant="tenant-a", user="ben")
        yield w


def text_of(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


def found(result: Any) -> list[str]:
    return [tool["name"] for tool in result.structured_content["tools"]]


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_search_finds_the_tool_and_call_tool_runs_it(world: dict[str, Any], mode: str) -> None:
    async with client_for(f"{world['hub'].url}/mcp", world["admin"], mode=mode) as client:
        names = [tool.name for tool in (await client.list_tools()).tools]
        assert names[:2] == ["search_tools", "call_tool"]
        assert "notes__echo" in names
        result = await client.call_tool("search_tools", {"query": "what time is it now", "k": 3})
        assert found(result)[0] == "clock__now"
        echoed = await client.call_tool("call_tool", {"name": "notes__echo", "arguments": {"text": "via search"}})
        assert echoed.structured_content == {"result": "via search"}


async def test_a_search_never_returns_a_tool_of_a_server_the_caller_cannot_see(world: dict[str, Any]) -> None:
    async with client_for(f"{world['hub'].url}/mcp", world["user"]) as client:
        result = await client.call_tool("search_tools", {"query": "what time is it now", "k": 50})
        with pytest.raises(MCPError, match="unknown tool 'clock__now'"):
            await client.call_tool("call_tool", {"name": "clock__now", "arguments": {}})
    assert found(result)  # the notes tools still rank
    assert all(not name.startswith("clock__") for name in found(result))


async def test_a_client_can_ask_for_only_the_meta_tools(world: dict[str, Any]) -> None:
    async with client_for(f"{world['hub'].url}/mcp?tool_search=only", world["admin"]) as client:
        assert [tool.name for tool in (await client.list_tools()).tools] == ["search_tools", "call_tool"]
        result = await client.call_tool("search_tools", {"query": "add a note", "k": 1})
    assert found(result) == ["notes__add_note"]


async def test_a_bad_search_gets_an_error_that_says_what_to_send(world: dict[str, Any]) -> None:
    async with client_for(f"{world['hub'].url}/mcp", world["admin"]) as client:
        with pytest.raises(MCPError, match="search_tools needs 'query'"):
            await client.call_tool("search_tools", {"k": 3})


async def test_when_nothing_fits_the_search_says_so_instead_of_offering_a_confident_list(
    world: dict[str, Any],
) -> None:
    async with client_for(f"{world['hub'].url}/mcp", world["admin"]) as client:
        unrelated = await client.call_tool("search_tools", {"query": "order a pizza for the team", "k": 3})
        fitting = await client.call_tool("search_tools", {"query": "what time is it now", "k": 3})
    assert unrelated.structured_content["fits"] is False
    assert text_of(unrelated).startswith("Nothing here fits this task well")
    assert fitting.structured_content["fits"] is True
    assert not text_of(fitting).startswith("Nothing")


async def test_a_misspelt_word_is_read_as_the_tool_word_and_the_answer_says_so(world: dict[str, Any]) -> None:
    async with client_for(f"{world['hub'].url}/mcp", world["admin"]) as client:
        result = await client.call_tool("search_tools", {"query": "ecoh my text back", "k": 3})
    assert found(result)[0] == "notes__echo"
    assert result.structured_content["spelled"] == {"ecoh": "echo"}
    assert "read 'ecoh' as 'echo'" in text_of(result)


async def test_with_sampling_the_clients_model_restates_the_query_in_tool_words(world: dict[str, Any]) -> None:
    model = Model({"query": "add note: save a named note with text"})
    async with client_for(f"{world['hub'].url}/mcp", world["admin"]) as plain:
        alone = await plain.call_tool("search_tools", {"query": "jot down that the standup moved", "k": 3})
    assert found(alone)[0] != "notes__add_note"  # the caller's words alone miss it
    assert "answeredBy" not in alone.structured_content
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {world['admin']}"}, timeout=30) as http,
        Client(
            streamable_http_client(f"{world['hub'].url}/mcp", http_client=http), mode="legacy", sampling_callback=model
        ) as client,
    ):
        result = await client.call_tool("search_tools", {"query": "jot down that the standup moved", "k": 3})
    (asked,) = model.asked
    assert "jot down that the standup moved" in json.dumps(asked.model_dump(mode="json")["messages"])
    assert "tool names and descriptions" in (asked.system_prompt or "")
    assert result.structured_content["answeredBy"] == "client model + search"
    assert result.structured_content["restatedQuery"] == "add note: save a named note with text"
    assert found(result)[0] == "notes__add_note"
