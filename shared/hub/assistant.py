"""The hub's own tools for operators on `/mcp`: `hub_recommend_servers(need)` and
`hub_plan_workflow(goal)`.

When the client declared MCP sampling, the hub asks the client's model: to name the kinds of
servers a need implies (added to the search), and to write a workflow from the caller's own tools,
which is checked against their schemas and sent back once for repair when it does not fit. Without
sampling, or when the model declines, fails or takes too long, scikit-learn search answers alone,
and the result says which path answered (`answeredBy`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import Any, cast

from shared.configure.recommend import Recommender, default_recommender, recommendation
from shared.configure.workflow import Step, check, describe, parse_json, search_plan
from shared.errors import HubError, InvalidParams
from shared.hub.asks import Answer, Asks
from shared.hub.tool_search import CALL, SEARCH, ToolSearch, query_of
from shared.mcp import jsonrpc
from shared.mcp.jsonrpc import JsonObject, Message, Request, Response
from shared.settings import ServerSettings

RECOMMEND = "hub_recommend_servers"
PLAN = "hub_plan_workflow"
Sampler = Callable[[JsonObject], Awaitable[Answer]]  # sampling/createMessage params → the client's answer
Tools = Callable[[], Awaitable[list[dict[str, Any]]]]
_CANDIDATES = 15
_MODEL, _SEARCH = "client model + search", "search"

TOOLS: list[dict[str, Any]] = [
    {
        "name": RECOMMEND,
        "title": "Recommend MCP servers (hub operators)",
        "description": (
            "Say in plain words what the team does or needs; get matching MCP servers from the hub's catalog "
            "(the MCP registry's servers that speak Streamable HTTP) with reasons, and the exact settings "
            "(environment variables and Bicep) to add those that fit."
        ),
        "inputSchema": {
            "type": "object",
            "properties": {
                "need": {"type": "string", "description": "e.g. 'we track bugs in Jira and keep code on GitHub'"},
                "k": {"type": "integer", "minimum": 1, "maximum": 20, "default": 5},
            },
            "required": ["need"],
        },
    },
    {
        "name": PLAN,
        "title": "Plan a workflow (hub operators)",
        "description": (
            "State a goal; get an ordered plan of tool calls from the tools you can use here, each checked "
            "against the tool's input schema."
        ),
        "inputSchema": {
            "type": "object",
            "properties": {"goal": {"type": "string", "description": "e.g. 'file a bug for the failing build'"}},
            "required": ["goal"],
        },
    },
]

_REFINE = (
    "You help an IT operator choose MCP servers. From the team's description, list the products and "
    'capabilities it needs, each as a short phrase (e.g. "Jira issue tracking"). Answer with JSON only: '
    '{"needs": ["..."]}'
)
_RESTATE = (
    "You help search a list of software tools (MCP tools). Rewrite the user's task as a search query in the "
    "words tool names and descriptions use: the action and the object, their usual technical terms "
    "(directory for folder, repository for repo, issue for ticket), and tool-style names such as "
    'read_multiple_files. Answer with JSON only: {"query": "..."}'
)
_PLAN = (
    "You plan tool calls. Using only the tools listed, write the ordered steps that reach the goal. Arguments "
    "must fit each tool's inputSchema; where a value comes from an earlier step, write {{stepN.result}}. "
    'Answer with JSON only: {"steps": [{"tool": "<name>", "arguments": {}, "purpose": "<why>"}]}'
)


class Assistant:
    def __init__(
        self,
        search: ToolSearch,
        servers: Mapping[str, ServerSettings],
        recommender: Callable[[], Recommender] = default_recommender,
    ) -> None:
        self._search = search
        self._configured = frozenset(str(s.url) for s in servers.values())
        self._recommender = recommender

    @staticmethod
    def offers(name: object) -> bool:
        return name in (RECOMMEND, PLAN)

    @staticmethod
    def offer(listed: JsonObject, operator: bool) -> JsonObject:
        """The aggregated tools/list answer, with the hub's own tools after the servers' for operators."""
        return {**listed, "tools": [*listed["tools"], *TOOLS]} if operator else listed

    async def call(self, request: Request, *, tools: Tools, sample: Sampler | None) -> JsonObject:
        """The result of a `tools/call` of one of the hub's tools."""
        raw = request.params.get("arguments")
        arguments = cast(dict[str, Any], raw) if isinstance(raw, dict) else {}
        if request.params.get("name") == RECOMMEND:
            return await self._recommend(arguments, sample)
        if request.params.get("name") == SEARCH:
            return await self._search_tools(request, tools, sample)
        return await self._plan(arguments, tools, sample)

    async def stream(
        self, request: Request, *, tools: Tools, asks: Asks, hub_session: str, can_sample: bool
    ) -> AsyncGenerator[Message]:
        """The call as what goes to the client: its sampling requests, then the answer."""
        outbox: asyncio.Queue[Request] = asyncio.Queue()

        async def sample(params: JsonObject) -> Answer:
            ask_id = asks.new(hub_session)
            await outbox.put(Request(ask_id, "sampling/createMessage", params))
            return await asks.wait(ask_id)

        task = asyncio.ensure_future(self.call(request, tools=tools, sample=sample if can_sample else None))
        try:
            while not task.done():
                asked = asyncio.ensure_future(outbox.get())
                await asyncio.wait({task, asked}, return_when=asyncio.FIRST_COMPLETED)
                if asked.done():
                    yield asked.result()
                else:
                    asked.cancel()
            try:
                result = task.result()
            except HubError as error:
                yield jsonrpc.error_response(request.id, error)
                return
            yield Response(request.id, result)
        finally:
            task.cancel()

    # ---- recommend ---------------------------------------------------------------------------

    async def _recommend(self, arguments: dict[str, Any], sample: Sampler | None) -> JsonObject:
        need = _text(arguments, "need", RECOMMEND)
        k = arguments.get("k", 5)
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 20:
            raise InvalidParams(f"{RECOMMEND}: 'k' must be a whole number from 1 to 20")
        refined: list[str] = []
        note = "" if sample else "This client offers no sampling: search answered alone."
        if sample is not None:
            try:
                answer = parse_json(_text_of(await sample(_sampling(_REFINE, [f"The team says: {need}"], 400))))
                refined = [str(n)[:200] for n in cast(list[Any], answer.get("needs") or [])[:10] if str(n).strip()]
            except (ValueError, HubError) as error:
                note = f"The client's model did not help ({_reason(error)}): search answered alone."
        query = " ".join([need, *refined])
        found = await asyncio.to_thread(recommendation, self._recommender(), query, k, self._configured)
        found.update(need=need, refinedNeeds=refined, answeredBy=_MODEL if refined else _SEARCH)
        if note:
            found["note"] = note
        lines = [
            f"{s['name']} ({s['title']}): matches {', '.join(s['because']) or 'the request'}" for s in found["servers"]
        ]
        if "nothingFits" in found:
            lines.insert(0, found["nothingFits"])
        if found["settings"]:
            lines += ["", "Settings to add:", *(f"{name}={value}" for name, value in found["settings"].items())]
        if note:
            lines += ["", note]
        return _result("\n".join(lines) or "No server in the catalog matches.", found)

    # ---- search_tools ------------------------------------------------------------------------

    async def _search_tools(self, request: Request, tools: Tools, sample: Sampler | None) -> JsonObject:
        """`search_tools`, with the query restated in tool vocabulary by the client's model first."""
        query, _ = query_of(request)
        visible = await tools()
        restated: str | None = None
        note = ""
        if sample is not None:
            try:
                answer = parse_json(_text_of(await sample(_sampling(_RESTATE, [f"Task: {query}"], 200))))
                restated = str(answer.get("query") or "").strip()[:500] or None
            except (ValueError, HubError) as error:
                note = f"The client's model did not help ({_reason(error)}): search answered alone."
        found = await self._search.answer(request, visible, restated)
        body = cast(dict[str, Any], found["structuredContent"])
        body["answeredBy"] = _MODEL if restated else _SEARCH
        if note:
            body["note"] = note
        return found

    # ---- plan --------------------------------------------------------------------------------

    async def _plan(self, arguments: dict[str, Any], tools: Tools, sample: Sampler | None) -> JsonObject:
        goal = _text(arguments, "goal", PLAN)
        visible = [t for t in await tools() if t.get("name") not in (SEARCH, CALL, RECOMMEND, PLAN)]
        by_name = {str(t.get("name")): t for t in visible}

        async def rank(query: str, k: int) -> list[Mapping[str, Any]]:
            return [tool for tool, _ in await self._search.rank(visible, query, k)]

        steps: list[Step] | None = None
        note = "" if sample else "This client offers no sampling: search answered alone."
        if sample is not None and visible:
            try:
                steps = await self._model_plan(goal, await rank(goal, _CANDIDATES), by_name, sample)
            except (ValueError, HubError) as error:
                note = f"The client's model did not help ({_reason(error)}): search answered alone."
        answered_by = _MODEL if steps is not None else _SEARCH
        if steps is None:
            steps = await search_plan(goal, rank, by_name)
        ready = bool(steps) and not any(step.problems or step.missing for step in steps)
        body = {"goal": goal, "answeredBy": answered_by, "ready": ready, "steps": [s.to_json() for s in steps]}
        if note:
            body["note"] = note
        return _result(describe(steps) + (f"\n\n{note}" if note else ""), body)

    async def _model_plan(
        self, goal: str, candidates: list[Mapping[str, Any]], tools: Mapping[str, Mapping[str, Any]], sample: Sampler
    ) -> list[Step]:
        listed = [
            {"name": t.get("name"), "description": t.get("description") or "", "inputSchema": t.get("inputSchema")}
            for t in candidates
        ]
        turns = [f"Goal: {goal}\n\nTools:\n{json.dumps(listed, ensure_ascii=False)[:24_000]}"]
        text = _text_of(await sample(_sampling(_PLAN, turns, 1500)))
        steps = check(parse_json(text).get("steps"), tools)
        problems = [problem for step in steps for problem in step.problems]
        if not problems:
            return steps
        # One repair round: the model sees exactly what did not fit.
        repair = "These steps do not fit the tools:\n" + "\n".join(problems) + "\nAnswer with corrected JSON only."
        turns += [text, repair]
        return check(parse_json(_text_of(await sample(_sampling(_PLAN, turns, 1500)))).get("steps"), tools)


def _sampling(system: str, turns: list[str], max_tokens: int) -> JsonObject:
    """sampling/createMessage params: the turns alternate user, assistant, user…"""
    messages = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": {"type": "text", "text": text}}
        for i, text in enumerate(turns)
    ]
    return {
        "messages": messages,
        "systemPrompt": system,
        "maxTokens": max_tokens,
        "includeContext": "none",
        "modelPreferences": {"intelligencePriority": 0.8, "speedPriority": 0.4},
    }


def _text_of(answer: Answer) -> str:
    if answer.error is not None:
        message = answer.error.get("message", "")
        raise ValueError(f"it answered with an error: {str(message)[:200]}")
    content = (answer.result or {}).get("content")
    blocks = cast(list[Any], content) if isinstance(content, list) else [content]
    texts = [cast(dict[str, Any], b) for b in blocks if isinstance(b, dict)]
    text = "".join(str(b.get("text", "")) for b in texts if b.get("type") == "text")
    if not text.strip():
        raise ValueError("its answer held no text")
    return text[:32_000]


def _text(arguments: dict[str, Any], name: str, tool: str) -> str:
    value = arguments.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > 2000:
        raise InvalidParams(f"{tool} needs '{name}': plain words, up to 2,000 characters")
    return value.strip()


def _reason(error: Exception) -> str:
    return error.message if isinstance(error, HubError) else str(error)


def _result(text: str, structured: JsonObject) -> JsonObject:
    return {"content": [{"type": "text", "text": text}], "structuredContent": structured, "isError": False}
