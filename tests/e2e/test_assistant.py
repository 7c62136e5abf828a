"""The hub's own operator tools through the MCP SDK client: with sampling, the client's model refines
the need and writes the workflow (its answer may reach another instance than the one waiting);
without it, search answers alone; people who do not operate the hub never see the tools."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from infra.balancer import AlternatingTransport
from infra.processes import Child
from shared.hub.assistant import PLAN
from tests.e2e.clients import client_for, signed_in_hub

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


class Model:
    """Stands in for the IDE's model: answers each sampling request with the next scripted reply."""

    def __init__(self, *replies: object) -> None:
        self.replies = [json.dumps(reply) for reply in replies]
        self.asked: list[types.CreateMessageRequestParams] = []

    async def __call__(self, context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        self.asked.append(params)
        text = self.replies[len(self.asked) - 1]
        return types.CreateMessageResult(role="assistant", content=types.TextContent(type="text", text=text), model="m")


class Recorder(AlternatingTransport):
    """Alternates instances and remembers which port each JSON-RPC message went to."""

    def __init__(self, ports: list[int]) -> None:
        super().__init__(ports)
        self.posts: list[tuple[int, dict[str, Any]]] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await super().handle_async_request(request)
        if request.method == "POST":
            self.posts.append((self.seen[-1], json.loads(request.content)))
        return response


async def test_the_clients_model_writes_the_workflow_and_its_answer_may_reach_another_instance(
    hub: Child, hub_b: Child
) -> None:
    bad = {"steps": [{"tool": "notes__add_note", "arguments": {"name": 7}, "purpose": "keep it"}]}
    good = {
        "steps": [
            {"tool": "notes__add_note", "arguments": {"name": "standup", "text": "ship it"}, "purpose": "keep it"},
            {"tool": "notes__echo", "arguments": {"text": "{{step1.result}}"}, "purpose": "show it"},
        ]
    }
    model = Model(bad, good)
    transport = Recorder([hub.port, hub_b.port])
    async with (
        httpx2.AsyncClient(transport=transport, timeout=30) as http,
        Client(streamable_http_client(f"{hub.url}/mcp", http_client=http), mode="legacy", sampling_callback=model) as c,
    ):
        names = [tool.name for tool in (await c.list_tools()).tools]
        goal = "write a note for the standup, then show what was saved"
        result = await c.call_tool("hub_plan_workflow", {"goal": goal})
    assert {"hub_plan_workflow", "hub_recommend_servers"} <= set(names)
    plan = result.structured_content
    assert plan is not None
    assert plan["answeredBy"] == "client model + search"
    assert plan["ready"] is True
    assert [step["tool"] for step in plan["steps"]] == ["notes__add_note", "notes__echo"]
    # The first plan did not fit add_note's schema: the model was asked once more, told exactly why.
    assert len(model.asked) == 2
    repair = model.asked[1].messages[-1].content
    assert isinstance(repair, types.TextContent)
    assert "step 1: arguments.name must be a string, not an integer" in repair.text
    assert "arguments.text is required" in repair.text
    call_port = next(port for port, body in transport.posts if body.get("params", {}).get("name") == PLAN)
    answer_ports = [port for port, body in transport.posts if str(body.get("id", "")).startswith("mcphub-ask.")]
    assert len(answer_ports) == 2
    assert any(port != call_port for port in answer_ports)  # handed over through Table Storage


async def test_the_clients_model_refines_a_need_into_servers_the_words_alone_would_miss(hub: Child) -> None:
    need = "our engineers want fewer tabs open"
    async with client_for(f"{hub.url}/mcp", "unused") as plain:
        alone = (await plain.call_tool("hub_recommend_servers", {"need": need, "k": 3})).structured_content
    model = Model({"needs": ["Jira issue tracking", "GitHub pull requests"]})
    async with (
        httpx2.AsyncClient(timeout=30) as http,
        Client(streamable_http_client(f"{hub.url}/mcp", http_client=http), mode="legacy", sampling_callback=model) as c,
    ):
        refined = (await c.call_tool("hub_recommend_servers", {"need": need, "k": 3})).structured_content
    assert alone is not None
    assert refined is not None
    assert alone["answeredBy"] == "search"
    assert "no sampling" in alone["note"]
    assert not {"github", "jira"} & {server["name"] for server in alone["servers"]}
    assert refined["answeredBy"] == "client model + search"
    assert refined["refinedNeeds"] == ["Jira issue tracking", "GitHub pull requests"]
    names = [server["name"] for server in refined["servers"]]
    assert {"github", "jira"} <= set(names)
    assert any(name.startswith("MCPHUB_SERVER_") for name in refined["settings"])


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_without_sampling_search_alone_plans_and_leaves_required_arguments_to_fill_in(
    hub: Child, mode: str
) -> None:
    async with client_for(f"{hub.url}/mcp", "unused", mode=mode) as client:
        result = await client.call_tool("hub_plan_workflow", {"goal": "add a note, then tell me the time"})
    plan = result.structured_content
    assert plan is not None
    assert plan["answeredBy"] == "search"
    assert [step["tool"] for step in plan["steps"]] == ["notes__add_note", "clock__now"]
    assert plan["steps"][0]["fillIn"] == ["name", "text"]
    assert plan["ready"] is False


@pytest.fixture(scope="module")
def signed_in(tmp_path_factory: pytest.TempPathFactory, storage_connection_string: str) -> Iterator[dict[str, Any]]:
    env = {"AzureWebJobsStorage": storage_connection_string}
    with signed_in_hub(Path(tmp_path_factory.mktemp("assist")), "hub-assist", env, upstreams=("notes",)) as world:
        authority = world["authority"]
        world["operator"] = authority.mint(tenant="tenant-a", user="ops", roles=("Hub.Operator",))
        world["user"] = authority.mint(tenant="tenant-a", user="ben")
        yield world


async def test_only_operators_see_and_call_the_hubs_own_tools(signed_in: dict[str, Any]) -> None:
    url = f"{signed_in['hub'].url}/mcp"
    async with client_for(url, signed_in["operator"]) as client:
        names = [tool.name for tool in (await client.list_tools()).tools]
        plan = await client.call_tool("hub_plan_workflow", {"goal": "echo hello"})
    async with client_for(url, signed_in["user"]) as client:
        hidden = [tool.name for tool in (await client.list_tools()).tools]
        with pytest.raises(MCPError, match="unknown tool 'hub_plan_workflow'"):
            await client.call_tool("hub_plan_workflow", {"goal": "echo hello"})
    assert "hub_plan_workflow" in names
    assert plan.structured_content is not None
    assert plan.structured_content["steps"][0]["tool"] == "notes__echo"
    assert not {"hub_plan_workflow", "hub_recommend_servers"} & set(hidden)
