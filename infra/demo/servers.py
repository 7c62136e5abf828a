"""Three upstreams to show the hub with: `notes` (tools, resources, prompts, progress, elicitation,
sampling, logging), `clock` (a second server to aggregate), `flaky` (slow and failing on purpose)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import random
import warnings
import weakref
from typing import Any

import mcp_types as types
from mcp.server.connection import Connection
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.shared.exceptions import MCPDeprecationWarning
from pydantic import BaseModel
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

# The demo shows features that 2026-07-28 deprecates but 2025-11-25 clients still use.
warnings.filterwarnings("ignore", category=MCPDeprecationWarning)


class Confirmation(BaseModel):
    confirm: bool


def build_notes() -> MCPServer:
    server = MCPServer("notes", instructions="A tiny note store.")
    notes: dict[str, str] = {"welcome": "Welcome to MCPHub's demo notes server."}
    connections = _track_connections(server)

    async def tell_everyone(ctx: Context) -> None:
        """The tool list changed for every client, not only the caller: each 2025-11-25 session
        hears it on its standalone stream, each 2026-07-28 listener on its `subscriptions/listen`."""
        for connection in list(connections):
            try:
                await connection.send_tool_list_changed()
            except Exception:  # a connection whose client went away: nobody left to tell
                connections.discard(connection)
        await ctx.notify_tools_changed()

    @server.tool()
    def add_note(name: str, text: str) -> str:
        """Store a note under a name (overwrites)."""
        notes[name] = text
        return f"saved note {name!r}"

    @server.tool()
    def list_notes() -> list[str]:
        """Names of all stored notes."""
        return sorted(notes)

    @server.tool()
    def echo(text: str) -> str:
        """Return the text unchanged (used by benchmarks)."""
        return text

    @server.tool()
    async def count_slowly(to: int, ctx: Context, delay: float = 0.05) -> str:
        """Count to `to`, reporting progress and logging each step."""
        for step in range(1, to + 1):
            await ctx.report_progress(step, to, f"step {step}")
            await ctx.info(f"counted {step}")
            await asyncio.sleep(delay)
        return f"counted to {to}"

    @server.tool()
    async def delete_all_notes(ctx: Context) -> str:
        """Delete every note, after asking the user to confirm (elicitation)."""
        answer = await ctx.elicit("Delete all notes?", Confirmation)
        if answer.action == "accept" and answer.data.confirm:
            notes.clear()
            return "all notes deleted"
        return "kept the notes"

    @server.tool()
    async def title_for(note: str, ctx: Context) -> str:
        """Ask the client's model for a title for a note (sampling)."""
        result = await ctx.session.create_message(
            messages=[
                types.SamplingMessage(
                    role="user", content=types.TextContent(type="text", text=f"Title for: {notes.get(note, note)}")
                )
            ],
            max_tokens=20,
            related_request_id=ctx.request_id,
        )
        content = result.content
        return content.text if isinstance(content, types.TextContent) else "untitled"

    @server.tool()
    async def enable_word_count(ctx: Context) -> str:
        """Add a `word_count` tool and tell clients the tool list changed."""

        def word_count(name: str) -> int:
            """Number of words in a note."""
            return len(notes.get(name, "").split())

        server.add_tool(word_count)
        await tell_everyone(ctx)
        return "word_count is available"

    @server.resource("note://{name}")
    def read_note(name: str) -> str:
        """One note's text."""
        return notes.get(name, "")

    @server.resource("notes://index")
    def index() -> str:
        """All note names, one per line."""
        return "\n".join(sorted(notes))

    @server.prompt()
    def summarize(name: str) -> str:
        """Ask for a summary of one note."""
        return f"Summarize this note:\n\n{notes.get(name, '')}"

    return server


def _track_connections(server: MCPServer) -> weakref.WeakSet[Connection]:
    """The 2025-11-25 connections of `server` that finished their handshake (ended ones drop out).

    The SDK builds a `ServerSession` per request; the connection behind it is what lasts. Middleware
    sees only the per-request session, so this reads its connection (the SDK has no public seam).
    """
    connections: weakref.WeakSet[Connection] = weakref.WeakSet()

    async def note_initialized(ctx: ServerRequestContext[Any], call_next: CallNext) -> HandlerResult:
        result = await call_next(ctx)
        if ctx.method == "notifications/initialized":
            connections.add(ctx.session._connection)  # pyright: ignore[reportPrivateUsage]  # no public way from middleware to the connection
        return result

    server.middleware.append(note_initialized)
    return connections


def build_clock() -> MCPServer:
    server = MCPServer("clock", instructions="Time and waiting.")

    @server.tool()
    def now(timezone_offset_hours: float = 0.0) -> str:
        """Current time as ISO 8601 at the given UTC offset."""
        zone = dt.timezone(dt.timedelta(hours=timezone_offset_hours))
        return dt.datetime.now(zone).isoformat(timespec="seconds")

    @server.tool()
    async def wait(seconds: float, ctx: Context) -> str:
        """Wait up to 30 s, reporting progress every 100 ms (cancel it to test cancellation)."""
        seconds = min(seconds, 30.0)
        steps = max(1, int(seconds * 10))
        for step in range(steps):
            await ctx.report_progress(step + 1, steps)
            await asyncio.sleep(seconds / steps)
        return f"waited {seconds:g} s"

    return server


def build_flaky(failure_rate: float = 0.3, delay: float = 0.5) -> MCPServer:
    server = MCPServer("flaky", instructions="Slow, and fails some calls on purpose.")

    @server.tool()
    async def unreliable(text: str) -> str:
        """Answers slowly and fails a share of calls."""
        await asyncio.sleep(delay)
        if random.random() < failure_rate:
            raise RuntimeError("flaky upstream failed on purpose")
        return text

    return server


def build_secured() -> MCPServer:
    """An upstream that needs each caller's own token (a stand-in for GitHub with a PAT)."""
    server = MCPServer("secured", instructions="Tells each caller which credential it presented.")

    @server.tool()
    def whoami(ctx: Context) -> str:
        """A fingerprint of the credential this call came with (never the credential itself)."""
        presented = (ctx.headers or {}).get("authorization", "")
        return "token:" + hashlib.sha256(presented.removeprefix("Bearer ").encode()).hexdigest()[:16]

    return server


def require_bearer(app: ASGIApp) -> ASGIApp:
    """401 without `Authorization: Bearer <token>`, or for tokens starting with "revoked"."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            token = headers.get(b"authorization", b"").decode().removeprefix("Bearer ").strip()
            if not token or token.startswith("revoked"):
                await PlainTextResponse("unauthorized", status_code=401)(scope, receive, send)
                return
        await app(scope, receive, send)

    return guarded


def build_conformance() -> MCPServer:
    from infra.conformance.fixture_server import build

    return build()


def build_conformance_2025() -> MCPServer:
    from infra.conformance.fixture_server import build

    return build("2025-11-25")


def handshake_only(app: ASGIApp) -> ASGIApp:
    from infra.conformance.fixture_server import handshake_only

    return handshake_only(app)


def modern_only(app: ASGIApp) -> ASGIApp:
    from infra.conformance.fixture_server import modern_only

    return modern_only(app)


BUILDERS = {
    "notes": build_notes,
    "clock": build_clock,
    "flaky": build_flaky,
    "secured": build_secured,
    "conformance": build_conformance,
    "conformance-2025": build_conformance_2025,  # a handshake-era server: asks the client mid-call
    "conformance-2026": build_conformance,  # 2026-07-28 only: asks the client with input_required
}
WRAPPERS = {"secured": require_bearer, "conformance-2025": handshake_only, "conformance-2026": modern_only}
