"""Tool search on the aggregated endpoint, for clients that take only so many tools (Cursor uses
the first 40): two meta-tools, `search_tools(query, k)` and `call_tool(name, arguments)`.

Modes: MCPHUB_TOOL_SEARCH=off (default), `first` (the meta-tools first, then every tool) or
`only` (just the meta-tools); one client can ask for `only` with `/mcp?tool_search=only`.
A search ranks the caller's own tools list, so it never returns a tool the caller cannot see;
a `call_tool` becomes the `tools/call` it names and is checked, limited and audited like one.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

from shared.errors import InvalidParams
from shared.mcp.jsonrpc import JsonObject, Request
from shared.search.index import Hit, doc_from_tool

if TYPE_CHECKING:  # the index brings numpy, scipy and the model: imported on the first search
    from shared.search.hybrid import HybridIndex

Mode = Literal["off", "first", "only"]
MODES: tuple[Mode, ...] = ("off", "first", "only")
SEARCH = "search_tools"
CALL = "call_tool"
_INDEXES = 32
_MAX_K = 50

META_TOOLS: list[dict[str, Any]] = [
    {
        "name": SEARCH,
        "title": "Search tools",
        "description": (
            "Find tools for a task among every tool this hub offers you. Describe the task in plain words; "
            "returns the best matching tools with their input schemas. Then run one with call_tool."
        ),
        "inputSchema": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "what you want to do, e.g. 'open a pull request'"},
                "k": {"type": "integer", "minimum": 1, "maximum": _MAX_K, "default": 8},
            },
            "required": ["query"],
        },
    },
    {
        "name": CALL,
        "title": "Call a tool",
        "description": "Run a tool found with search_tools, by its exact name, with arguments matching its schema.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "description": "the tool's name as search_tools returned it"},
                "arguments": {"type": "object", "description": "the tool's arguments"},
            },
            "required": ["name"],
        },
    },
]


def mode_for(query: dict[str, str], default: Mode) -> Mode:
    asked = query.get("tool_search")
    return asked if asked in MODES else default


@dataclass
class _View:
    """One index over a set of servers, kept current server by server."""

    index: HybridIndex
    signatures: dict[str, str] = field(default_factory=dict[str, str])
    lock: threading.Lock = field(default_factory=threading.Lock)


class ToolSearch:
    def __init__(self) -> None:
        # One index per set of servers a caller sees. A server whose list changed (list_changed,
        # per-user credentials) is refolded alone: the index does not start over.
        self._views: OrderedDict[frozenset[str], _View] = OrderedDict()
        self._word_vectors: dict[str, Any] = {}  # shared by every view's index: one vector per word

    def decorate(self, listed: JsonObject, mode: Mode) -> JsonObject:
        """The aggregated tools/list answer as `mode` presents it."""
        if mode == "off":
            return listed
        tools = cast(list[dict[str, Any]], listed.get("tools") or [])
        return {**listed, "tools": META_TOOLS + ([] if mode == "only" else tools)}

    @staticmethod
    def calls(request: Request, mode: Mode) -> str | None:
        """Which meta-tool `request` calls (SEARCH or CALL) when `mode` offers them, else None."""
        name = request.params.get("name")
        if mode == "off" or request.method != "tools/call" or name not in (SEARCH, CALL):
            return None
        return str(name)

    async def intercept(
        self, request: Request, mode: Mode, tools: Callable[[], Awaitable[list[dict[str, Any]]]]
    ) -> JsonObject | Request:
        """A `tools/call` of a meta-tool: the search's result over `tools` (the caller's own), or
        the `tools/call` that `call_tool` stands for. Any other request comes back as it was."""
        called = self.calls(request, mode)
        if called == SEARCH:
            return await self.answer(request, await tools())
        if called == CALL:
            return self.unwrap(request)
        return request

    def unwrap(self, request: Request) -> Request:
        """`call_tool(name, arguments)` as the `tools/call` it stands for."""
        arguments = request.params.get("arguments")
        inner = cast(dict[str, Any], arguments) if isinstance(arguments, dict) else {}
        name = inner.get("name")
        if not isinstance(name, str) or not name or name in (SEARCH, CALL):
            raise InvalidParams("call_tool needs 'name': a tool name that search_tools returned")
        params: dict[str, Any] = {"name": name, "arguments": inner.get("arguments") or {}}
        if "_meta" in request.params:
            params["_meta"] = request.params["_meta"]
        return Request(request.id, "tools/call", params)

    async def answer(
        self, request: Request, visible_tools: list[dict[str, Any]], restated: str | None = None
    ) -> JsonObject:
        """The result of `search_tools` over the caller's own tools; `restated` is the query in tool
        vocabulary as the client's model put it (searched together with the caller's words)."""
        query, k = query_of(request)
        ranked, spelled = await self.search(visible_tools, f"{query} {restated}" if restated else query, k)
        found = [
            {
                "name": tool.get("name"),
                "description": tool.get("description") or "",
                "inputSchema": tool.get("inputSchema", {"type": "object"}),
                "score": round(score, 4),
            }
            for tool, score in ranked
        ]
        from shared.search.hybrid import FITS

        fits = bool(ranked) and ranked[0][1] >= FITS
        lines = [f"{t['name']}: {t['description']}" for t in found]
        if not found:
            lines = ["No tool matches; try other words."]
        elif not fits:
            lines = [
                "Nothing here fits this task well: none of your tools seems to do it. The closest, for reference:",
                *lines,
            ]
        body: JsonObject = {"tools": found, "fits": fits}
        if spelled:
            body["spelled"] = spelled
            read = ", ".join(f"'{typed}' as '{word}'" for typed, word in spelled.items())
            lines.append(f"(Also searched for the tools' own words: read {read}.)")
        if restated:
            body["restatedQuery"] = restated
        return {"content": [{"type": "text", "text": "\n".join(lines)}], "structuredContent": body, "isError": False}

    async def rank(self, visible_tools: list[dict[str, Any]], query: str, k: int) -> list[tuple[dict[str, Any], float]]:
        """The `k` tools of `visible_tools` that best fit `query`, best first, each with how well it
        fits (cosine with the query; below `FITS` it does not fit well)."""
        return (await self.search(visible_tools, query, k))[0]

    async def search(
        self, visible_tools: list[dict[str, Any]], query: str, k: int
    ) -> tuple[list[tuple[dict[str, Any], float]], dict[str, str]]:
        """`rank`, and the query words taken for misspellings of the tools' words (typed → word).

        Only the caller's own tools can come back: hits are looked up in `visible_tools`, so a tool
        another caller of the same view saw (a per-user list) is never returned to this one."""
        by_server: dict[str, list[dict[str, Any]]] = {}
        for tool in visible_tools:
            name = str(tool.get("name", ""))
            if name not in (SEARCH, CALL):
                by_server.setdefault(name.split("__", 1)[0], []).append(tool)
        view = self._view(frozenset(by_server))

        def update_and_search() -> tuple[list[Hit], dict[str, str]]:
            with view.lock:  # one caller at a time per view: no update while another search reads it
                for server, tools in by_server.items():
                    signature = _signature(tools)
                    if view.signatures.get(server) != signature:
                        view.index.replace(server, [doc_from_tool(server, tool) for tool in tools])
                        view.signatures[server] = signature
                return view.index.lookup(query, k, None)

        # Off the event loop: the first search builds the index (and loads the embedding model).
        hits, spelled = await asyncio.to_thread(update_and_search)
        by_name = {str(t.get("name")): t for t in visible_tools}
        return [(by_name[hit.doc.name], hit.match) for hit in hits if hit.doc.name in by_name], spelled

    def _view(self, servers: frozenset[str]) -> _View:
        view = self._views.get(servers)
        if view is None:
            view = self._views[servers] = _View(_new_index(self._word_vectors))
            if len(self._views) > _INDEXES:
                self._views.popitem(last=False)
        self._views.move_to_end(servers)
        return view


def _new_index(word_vectors: dict[str, Any]) -> HybridIndex:
    from shared.search.hybrid import EMBEDDER, HybridIndex

    return HybridIndex(EMBEDDER, word_vectors)


def query_of(request: Request) -> tuple[str, int]:
    """`search_tools`' query and k, checked."""
    arguments = request.params.get("arguments")
    given = cast(dict[str, Any], arguments) if isinstance(arguments, dict) else {}
    query, k = given.get("query"), given.get("k", 8)
    if not isinstance(query, str) or not query.strip() or len(query) > 2000:
        raise InvalidParams("search_tools needs 'query': the task in plain words, up to 2,000 characters")
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= _MAX_K:
        raise InvalidParams(f"search_tools: 'k' must be a whole number from 1 to {_MAX_K}")
    return query, k


def _signature(tools: list[dict[str, Any]]) -> str:
    """What the index reads of a server's tools, hashed: names, descriptions, parameters."""
    shown = [[t.get("name"), t.get("description"), t.get("inputSchema")] for t in tools]
    return hashlib.sha256(json.dumps(shown, sort_keys=True, default=str).encode()).hexdigest()
