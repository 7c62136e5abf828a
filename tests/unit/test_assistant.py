"""The hub's own tools fall back to search when the client's model does not help, and say so."""

from __future__ import annotations

from typing import Any

import pytest

from shared.errors import InvalidParams, UpstreamTimeout
from shared.hub.asks import Answer
from shared.hub.assistant import PLAN, RECOMMEND, Assistant
from shared.hub.tool_search import ToolSearch
from shared.mcp.jsonrpc import JsonObject, Request

pytestmark = pytest.mark.anyio
TOOLS: list[dict[str, Any]] = [
    {
        "name": "notes__add_note",
        "description": "Add a note",
        "inputSchema": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
    },
    {"name": "clock__now", "description": "The current time", "inputSchema": {"type": "object"}},
]


async def tools() -> list[dict[str, Any]]:
    return TOOLS


def call(name: str, **arguments: Any) -> Request:
    return Request(1, "tools/call", {"name": name, "arguments": arguments})


def replying(answer: Answer | Exception) -> Any:
    async def sample(params: JsonObject) -> Answer:
        if isinstance(answer, Exception):
            raise answer
        return answer

    return sample


def text(body: str) -> Answer:
    return Answer({"role": "assistant", "content": {"type": "text", "text": body}, "model": "m"}, None)


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (Answer(None, {"code": -1, "message": "User rejected sampling request"}), "User rejected sampling request"),
        (text("I would rather not"), "the answer holds no JSON object"),
        (text('{"plan": []}'), "the plan has no 'steps' list"),
        (UpstreamTimeout("client", "the client did not answer in time"), "did not answer in time"),
    ],
)
async def test_when_the_model_does_not_help_search_plans_and_the_note_says_why(
    answer: Answer | Exception, why: str
) -> None:
    result = await Assistant(ToolSearch(), {}).call(
        call(PLAN, goal="add a note, then tell me the time"), tools=tools, sample=replying(answer)
    )
    plan = result["structuredContent"]
    assert plan["answeredBy"] == "search"
    assert why in plan["note"]
    assert [step["tool"] for step in plan["steps"]] == ["notes__add_note", "clock__now"]


async def test_a_plan_still_wrong_after_the_repair_round_is_returned_with_its_problems() -> None:
    wrong = text('{"steps": [{"tool": "notes__add_note", "arguments": {}}]}')
    result = await Assistant(ToolSearch(), {}).call(call(PLAN, goal="add a note"), tools=tools, sample=replying(wrong))
    plan = result["structuredContent"]
    assert plan["answeredBy"] == "client model + search"
    assert plan["ready"] is False
    assert plan["steps"][0]["problems"] == ["step 1: arguments.name is required"]


async def test_bad_arguments_get_an_error_that_says_what_to_send() -> None:
    assistant = Assistant(ToolSearch(), {})
    with pytest.raises(InvalidParams, match="hub_plan_workflow needs 'goal'"):
        await assistant.call(call(PLAN), tools=tools, sample=None)
    with pytest.raises(InvalidParams, match="'k' must be a whole number from 1 to 20"):
        await assistant.call(call(RECOMMEND, need="jira", k=0), tools=tools, sample=None)
