"""An upstream that implements the fixtures the official MCP conformance suite calls.

The suite (npm @modelcontextprotocol/conformance) drives a server through named tools, resources
and prompts (`test_simple_text`, `test://static-text`, ...). The hub is scored by running the
suite against this server directly and through `/mcp/{server}`: the two scores must match.
"""

from __future__ import annotations

import asyncio
import base64
import json
import warnings
from typing import Any

import mcp_types as types
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.prompts.base import UserMessage
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp.shared.inbound import unsupported_protocol_version_rejection
from mcp.shared.message import ServerMessageMetadata
from mcp_types import MISSING_REQUIRED_CLIENT_CAPABILITY
from pydantic import BaseModel, Field, JsonValue
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

warnings.filterwarnings("ignore", category=MCPDeprecationWarning)

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
WAV = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="


class Reply(BaseModel):
    response: str = Field(description="The user's answer")


class Defaults(BaseModel):
    name: str = Field(default="John Doe", description="User name")
    age: int = Field(default=30, description="User age")
    score: float = Field(default=95.5, description="User score")
    status: str = Field(
        default="active", description="User status", json_schema_extra={"enum": ["active", "inactive", "pending"]}
    )
    verified: bool = Field(default=True, description="Verification status")


def _titled(options: dict[str, str]) -> list[JsonValue]:
    return [{"const": value, "title": title} for value, title in options.items()]


class Enums(BaseModel):
    untitledSingle: str = Field(
        description="Simple enum", json_schema_extra={"enum": ["active", "inactive", "pending"]}
    )
    titledSingle: str = Field(
        description="Titled enum",
        json_schema_extra={"oneOf": _titled({"low": "Low Priority", "medium": "Medium Priority", "high": "High"})},
    )
    untitledMulti: list[str] = Field(
        description="Multi-select",
        json_schema_extra={"items": {"type": "string", "enum": ["read", "write", "execute"]}},
    )
    titledMulti: list[str] = Field(
        description="Titled multi-select",
        json_schema_extra={"items": {"anyOf": _titled({"feature": "New Feature", "bug": "Bug Fix", "docs": "Docs"})}},
    )
    legacyEnum: str = Field(
        description="Legacy enum with enumNames",
        json_schema_extra={"enum": ["small", "medium", "large"], "enumNames": ["Small", "Medium", "Large"]},
    )


def _ask_name(message: str, key: str = "name") -> dict[str, Any]:
    schema = {"type": "object", "properties": {key: {"type": "string"}}, "required": [key]}
    return {"method": "elicitation/create", "params": {"message": message, "requestedSchema": schema}}


def _sample(text: str, max_tokens: int) -> dict[str, Any]:
    messages = [{"role": "user", "content": {"type": "text", "text": text}}]
    return {"method": "sampling/createMessage", "params": {"messages": messages, "maxTokens": max_tokens}}


ROOTS: dict[str, Any] = {"method": "roots/list", "params": {}}


def _needs(requests: dict[str, Any], state: str | None = None) -> types.InputRequiredResult:
    """An InputRequiredResult (2026-07-28): the client answers `requests` and retries with `state`."""
    wire: dict[str, Any] = {"resultType": "input_required", "inputRequests": requests}
    if state is not None:
        wire["requestState"] = state
    return types.InputRequiredResult.model_validate(wire)


def _answers(ctx: Context) -> dict[str, Any]:
    """The client's answers as plain JSON (the SDK hands them over as result models)."""
    raw = ctx.input_responses or {}
    return {key: value.model_dump(by_alias=True, mode="json") for key, value in raw.items()}


def _text(answer: dict[str, Any]) -> str:
    content = answer.get("content")
    if isinstance(content, dict):
        return str(content.get("text") or next(iter(content.values()), ""))
    return str(content or "")


def _declared_asks(declared: types.ClientCapabilities | None) -> dict[str, Any]:
    """What `test_input_required_result_capabilities` asks: only what the client declared."""
    wanted: dict[str, Any] = {}
    if declared is not None and declared.sampling is not None:
        wanted["greeting"] = _sample("Generate a greeting", 50)
    if declared is not None and declared.elicitation is not None:
        wanted["user_name"] = _ask_name("What is your name?")
    if declared is not None and declared.roots is not None:
        wanted["client_roots"] = ROOTS
    return wanted


def _input_required(server: MCPServer) -> None:
    """The SEP-2322 (multi-round-trip) fixtures of the 2026-07-28 scenarios."""

    @server.tool()
    def test_input_required_result_elicitation(ctx: Context) -> Any:
        """Asks the user's name through an InputRequiredResult, then greets them"""
        answers = _answers(ctx)
        if "user_name" not in answers:
            return _needs({"user_name": _ask_name("What is your name?")})
        return f"Hello, {_text(answers['user_name'])}!"

    @server.tool()
    def test_input_required_result_sampling(ctx: Context) -> Any:
        """Asks the client's model a question through an InputRequiredResult"""
        answers = _answers(ctx)
        if "capital_question" not in answers:
            return _needs({"capital_question": _sample("What is the capital of France?", 100)})
        return f"The model said: {_text(answers['capital_question'])}"

    @server.tool()
    def test_input_required_result_list_roots(ctx: Context) -> Any:
        """Asks for the client's roots through an InputRequiredResult"""
        answers = _answers(ctx)
        if "client_roots" not in answers:
            return _needs({"client_roots": ROOTS})
        roots = answers["client_roots"].get("roots") or []
        return "Roots: " + ", ".join(str(root.get("uri")) for root in roots)

    @server.tool()
    def test_input_required_result_request_state(ctx: Context) -> Any:
        """Round-trips requestState"""
        answers = _answers(ctx)
        if "confirm" not in answers or ctx.request_state != "confirm-round-1":
            schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
            ask = {"method": "elicitation/create", "params": {"message": "Please confirm", "requestedSchema": schema}}
            return _needs({"confirm": ask}, "confirm-round-1")
        return "state-ok: confirmed"

    @server.tool()
    def test_input_required_result_multiple_inputs(ctx: Context) -> Any:
        """Asks three things in one InputRequiredResult"""
        answers = _answers(ctx)
        wanted = {
            "user_name": _ask_name("What is your name?"),
            "greeting": _sample("Generate a greeting", 50),
            "client_roots": ROOTS,
        }
        if not set(wanted) <= set(answers) or ctx.request_state != "multiple-round-1":
            return _needs(wanted, "multiple-round-1")
        return f"All inputs received: {_text(answers['user_name'])}"

    @server.tool()
    def test_input_required_result_multi_round(ctx: Context) -> Any:
        """Two rounds of questions, each with its own requestState"""
        answers = _answers(ctx)
        if ctx.request_state == "round-2" and "step2" in answers:
            return f"Completed: color {_text(answers['step2'])}"
        if ctx.request_state == "round-1" and "step1" in answers:
            return _needs({"step2": _ask_name("Step 2: What is your favorite color?", "color")}, "round-2")
        return _needs({"step1": _ask_name("Step 1: What is your name?")}, "round-1")

    @server.tool()
    def test_input_required_result_tampered_state(ctx: Context) -> Any:
        """Its requestState is sealed by the SDK: a tampered one is refused before this runs"""
        answers = _answers(ctx)
        if "confirm" not in answers or ctx.request_state != "tamper-check":
            return _needs({"confirm": _ask_name("Please confirm", "ok")}, "tamper-check")
        return "state verified"

    @server.tool()
    def test_input_required_result_capabilities(ctx: Context) -> Any:
        """Asks only what the client declared it can answer"""
        declared = ctx.client_capabilities
        wanted = _declared_asks(declared)
        if not wanted or set(wanted) <= set(_answers(ctx)):
            return "Nothing more to ask"
        return _needs(wanted)

    @server.prompt()
    def test_input_required_result_prompt(ctx: Context) -> Any:
        """A prompt that needs the user's context first"""
        answers = _answers(ctx)
        if "user_context" not in answers:
            return _needs({"user_context": _ask_name("What context should the prompt use?", "context")})
        text = f"Use this context: {_text(answers['user_context'])}"
        return [UserMessage(role="user", content=types.TextContent(type="text", text=text))]


JSON_SCHEMA_2020_12: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "$anchor": "addressDef",
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {
        "name": {"type": "string"},
        "address": {"$ref": "#/$defs/address"},
        "contactMethod": {"type": "string", "enum": ["phone", "email"]},
        "phone": {"type": "string"},
        "email": {"type": "string"},
    },
    "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
    "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
    "then": {"required": ["phone"]},
    "else": {"required": ["email"]},
    "additionalProperties": False,
}


def _diagnostics(server: MCPServer) -> None:
    """Tools the suite probes the server's own checks with."""

    @server.tool()
    def test_missing_capability(ctx: Context) -> str:
        """Needs the client's sampling capability: without it, -32021 (2026-07-28)"""
        declared = ctx.client_capabilities
        if declared is None or declared.sampling is None:
            raise MCPError(
                code=MISSING_REQUIRED_CLIENT_CAPABILITY,
                message="this tool needs the client's sampling capability",
                data={"requiredCapabilities": {"sampling": {}}},
            )
        return "the client can sample"

    @server.tool()
    def json_schema_2020_12_tool(**kwargs: Any) -> str:
        """Tool with JSON Schema 2020-12 features"""
        return "ok"

    tool = server._tool_manager.get_tool("json_schema_2020_12_tool")
    assert tool is not None
    tool.parameters = JSON_SCHEMA_2020_12

    @server.tool()
    def test_region_header(
        region: str = Field(description="Where to run", json_schema_extra={"x-mcp-header": "Region"}),
        query: str = Field(default="", description="What to look up"),
    ) -> str:
        """Mirrors `region` into the Mcp-Param-Region header (SEP-2243)"""
        return f"region={region} query={query}"


def _asking(server: MCPServer) -> None:
    """The same fixtures as a handshake-era server writes them: each asks the client with a real
    request on the call's own stream (sampling, elicitation, roots; several at once where the
    2026-07-28 fixture asks several in one round). The hub bridges them for 2026-07-28 clients."""

    async def ask(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
        kinds: dict[str, tuple[Any, Any]] = {
            "sampling/createMessage": (types.CreateMessageRequest, types.CreateMessageResult),
            "elicitation/create": (types.ElicitRequest, types.ElicitResult),
            "roots/list": (types.ListRootsRequest, types.ListRootsResult),
        }
        request_type, result_type = kinds[request["method"]]
        result = await ctx.session.send_request(
            request_type.model_validate(request),
            result_type,
            metadata=ServerMessageMetadata(related_request_id=ctx.request_id),
        )
        return result.model_dump(by_alias=True, mode="json", exclude_none=True)

    async def ask_all(ctx: Context, requests: dict[str, dict[str, Any]]) -> dict[str, Any]:
        answers = await asyncio.gather(*(ask(ctx, request) for request in requests.values()))
        return dict(zip(requests, answers, strict=True))

    def confirm() -> dict[str, Any]:
        schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
        return {"method": "elicitation/create", "params": {"message": "Please confirm", "requestedSchema": schema}}

    @server.tool()
    async def test_input_required_result_elicitation(ctx: Context) -> Any:
        """Asks the user's name (elicitation), then greets them"""
        return f"Hello, {_text(await ask(ctx, _ask_name('What is your name?')))}!"

    @server.tool()
    async def test_input_required_result_sampling(ctx: Context) -> Any:
        """Asks the client's model a question (sampling)"""
        return f"The model said: {_text(await ask(ctx, _sample('What is the capital of France?', 100)))}"

    @server.tool()
    async def test_input_required_result_list_roots(ctx: Context) -> Any:
        """Asks for the client's roots"""
        roots = (await ask(ctx, ROOTS)).get("roots") or []
        return "Roots: " + ", ".join(str(root.get("uri")) for root in roots)

    @server.tool()
    async def test_input_required_result_request_state(ctx: Context) -> Any:
        """One question, answered across a retry"""
        await ask(ctx, confirm())
        return "state-ok: confirmed"

    @server.tool()
    async def test_input_required_result_multiple_inputs(ctx: Context) -> Any:
        """Asks three things at once"""
        wanted = {
            "user_name": _ask_name("What is your name?"),
            "greeting": _sample("Generate a greeting", 50),
            "client_roots": ROOTS,
        }
        answers = await ask_all(ctx, wanted)
        return f"All inputs received: {_text(answers['user_name'])}"

    @server.tool()
    async def test_input_required_result_multi_round(ctx: Context) -> Any:
        """Two questions, one after the other"""
        await ask(ctx, _ask_name("Step 1: What is your name?"))
        color = await ask(ctx, _ask_name("Step 2: What is your favorite color?", "color"))
        return f"Completed: color {_text(color)}"

    @server.tool()
    async def test_input_required_result_tampered_state(ctx: Context) -> Any:
        """The hub signs the state of this question: a tampered one is refused before this goes on"""
        await ask(ctx, _ask_name("Please confirm", "ok"))
        return "state verified"

    @server.tool()
    async def test_input_required_result_capabilities(ctx: Context) -> Any:
        """Asks only what the client declared it can answer"""
        declared = ctx.session.client_params.capabilities if ctx.session.client_params else None
        wanted = _declared_asks(declared)
        await ask_all(ctx, wanted)
        return "Nothing more to ask"

    @server.prompt()
    async def test_input_required_result_prompt(ctx: Context) -> Any:
        """A prompt that needs the user's context first"""
        context = await ask(ctx, _ask_name("What context should the prompt use?", "context"))
        return [
            UserMessage(role="user", content=types.TextContent(type="text", text=f"Use this context: {_text(context)}"))
        ]


def build(era: str = "2026-07-28") -> MCPServer:
    """The fixture server; `era="2025-11-25"` asks the client with handshake-era requests instead
    of input_required results (served handshake-only by `handshake_only`)."""
    server = MCPServer("mcp-conformance-fixture")
    subscriptions: set[str] = set()

    @server.tool()
    def test_simple_text() -> str:
        """Tests simple text content response"""
        return "This is a simple text response for testing."

    @server.tool()
    def test_image_content() -> list[types.ImageContent]:
        """Tests image content response"""
        return [types.ImageContent(type="image", data=PNG, mime_type="image/png")]

    @server.tool()
    def test_audio_content() -> list[types.AudioContent]:
        """Tests audio content response"""
        return [types.AudioContent(type="audio", data=WAV, mime_type="audio/wav")]

    def embedded(uri: str, mime: str, text: str) -> types.EmbeddedResource:
        return types.EmbeddedResource(
            type="resource", resource=types.TextResourceContents(uri=uri, mime_type=mime, text=text)
        )

    @server.tool()
    def test_embedded_resource() -> list[types.EmbeddedResource]:
        """Tests embedded resource content response"""
        return [embedded("test://embedded-resource", "text/plain", "This is an embedded resource content.")]

    @server.tool()
    def test_multiple_content_types() -> list[types.TextContent | types.ImageContent | types.EmbeddedResource]:
        """Tests response with multiple content types (text, image, resource)"""
        return [
            types.TextContent(type="text", text="Multiple content types test:"),
            types.ImageContent(type="image", data=PNG, mime_type="image/png"),
            embedded("test://mixed-content-resource", "application/json", '{"test": "data", "value": 123}'),
        ]

    @server.tool()
    async def test_tool_with_logging(ctx: Context) -> str:
        """Tests tool that emits log messages during execution"""
        for text in ("Tool execution started", "Tool processing data", "Tool execution completed"):
            await ctx.info(text)
            await asyncio.sleep(0.02)
        return "Tool with logging executed successfully"

    @server.tool()
    async def test_tool_with_progress(ctx: Context) -> str:
        """Tests tool that reports progress notifications"""
        for step in (0, 50, 100):
            await ctx.report_progress(progress=step, total=100, message=f"Completed step {step} of 100")
            await asyncio.sleep(0.02)
        meta = ctx.request_context.meta or {}
        return str(meta.get("progress_token", 0))

    @server.tool()
    async def test_sampling(prompt: str, ctx: Context) -> str:
        """Tests server-initiated sampling (LLM completion request)"""
        try:
            result = await ctx.session.create_message(
                messages=[types.SamplingMessage(role="user", content=types.TextContent(type="text", text=prompt))],
                max_tokens=100,
                related_request_id=ctx.request_id,
            )
        except Exception as exc:  # the suite reads the error text from the result
            return f"Sampling not supported or error: {exc}"
        content = result.content
        return f"LLM response: {content.text if isinstance(content, types.TextContent) else 'No response'}"

    async def elicit(ctx: Context, message: str, schema: type[BaseModel], label: str) -> str:
        try:
            result = await ctx.elicit(message=message, schema=schema)
        except Exception as exc:
            return f"Elicitation not supported or error: {exc}"
        content = result.data.model_dump_json() if result.action == "accept" else "{}"
        return f"{label}: action={result.action}, content={content}"

    @server.tool()
    async def test_elicitation(message: str, ctx: Context) -> str:
        """Tests server-initiated elicitation (user input request)"""
        return await elicit(ctx, message, Reply, "User response")

    @server.tool()
    async def test_elicitation_sep1034_defaults(ctx: Context) -> str:
        """Tests elicitation with default values for all primitive types (SEP-1034)"""
        return await elicit(ctx, "Please provide user information", Defaults, "Elicitation result")

    @server.tool()
    async def test_elicitation_sep1330_enums(ctx: Context) -> str:
        """Tests elicitation with enum schema variations per SEP-1330"""
        return await elicit(
            ctx, "Please select values using different enum schema types", Enums, "Elicitation completed"
        )

    @server.tool()
    def test_error_handling() -> str:
        """Tests error response handling"""
        raise RuntimeError("This tool intentionally returns an error for testing")

    @server.tool()
    async def test_reconnection(ctx: Context) -> str:
        """Tests SSE polling by closing stream mid-call (SEP-1699)"""
        await ctx.info("Before disconnect")
        await ctx.close_sse_stream()
        await asyncio.sleep(0.2)
        await ctx.info("After reconnect")
        return "Reconnection test completed"

    @server.resource("test://static-text")
    def static_text() -> str:
        """A static text resource for testing"""
        return "This is the content of the static text resource."

    @server.resource("test://static-binary")
    def static_binary() -> bytes:
        """A static binary resource (image) for testing"""
        return base64.b64decode(PNG)

    @server.resource("test://template/{id}/data")
    def template(id: str) -> str:
        """A resource template with parameter substitution"""
        return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})

    @server.resource("test://watched-resource")
    def watched() -> str:
        """A resource that can be subscribed to for updates"""
        return "Watched resource content"

    @server.prompt()
    def test_simple_prompt() -> list[UserMessage]:
        """A simple prompt without arguments"""
        return [
            UserMessage(
                role="user", content=types.TextContent(type="text", text="This is a simple prompt for testing.")
            )
        ]

    @server.prompt()
    def test_prompt_with_arguments(arg1: str, arg2: str) -> list[UserMessage]:
        """A prompt with required arguments"""
        text = f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"
        return [UserMessage(role="user", content=types.TextContent(type="text", text=text))]

    @server.prompt()
    def test_prompt_with_embedded_resource(resourceUri: str) -> list[UserMessage]:
        """A prompt that includes an embedded resource"""
        return [
            UserMessage(
                role="user", content=embedded(resourceUri, "text/plain", "Embedded resource content for testing.")
            ),
            UserMessage(
                role="user", content=types.TextContent(type="text", text="Please process the embedded resource above.")
            ),
        ]

    @server.prompt()
    def test_prompt_with_image() -> list[UserMessage]:
        """A prompt that includes image content"""
        return [
            UserMessage(role="user", content=types.ImageContent(type="image", data=PNG, mime_type="image/png")),
            UserMessage(role="user", content=types.TextContent(type="text", text="Please analyze the image above.")),
        ]

    @server.completion()
    async def complete(ref: Any, argument: Any, context: Any) -> types.Completion:
        return types.Completion(values=[], total=0, has_more=False)

    if era == "2025-11-25":
        _asking(server)
    else:
        _input_required(server)
    _diagnostics(server)
    lowlevel = server._lowlevel_server

    async def set_level(ctx: Any, params: types.SetLevelRequestParams) -> types.EmptyResult:
        return types.EmptyResult()

    async def subscribe(ctx: Any, params: types.SubscribeRequestParams) -> types.EmptyResult:
        subscriptions.add(str(params.uri))
        return types.EmptyResult()

    async def unsubscribe(ctx: Any, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
        subscriptions.discard(str(params.uri))
        return types.EmptyResult()

    lowlevel.add_request_handler("logging/setLevel", types.SetLevelRequestParams, set_level)
    lowlevel.add_request_handler("resources/subscribe", types.SubscribeRequestParams, subscribe)
    lowlevel.add_request_handler("resources/unsubscribe", types.UnsubscribeRequestParams, unsubscribe)
    return server


def handshake_only(app: ASGIApp) -> ASGIApp:
    """`app` as a handshake-era server (TypeScript SDK 1.x) answers a 2026-07-28 request: with
    400 "Server not initialized", as npm server-everything 2026.8.31 does (seen on 2026-12-07)."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            headers = dict(scope["headers"])
            if headers.get(b"mcp-protocol-version", b"").startswith(b"2026") and b"mcp-session-id" not in headers:
                error = {"code": -32000, "message": "Bad Request: Server not initialized"}
                body = {"jsonrpc": "2.0", "error": error, "id": None}
                await JSONResponse(body, status_code=400)(scope, receive, send)
                return
        await app(scope, receive, send)

    return guarded


def modern_only(app: ASGIApp) -> ASGIApp:
    """`app` as a server of 2026-07-28 only: a handshake-era request (initialize, a session, no
    2026 version header) gets the rejection the SDK's own version ladder gives an unsupported
    version (400, naming the supported versions); GET and DELETE get 405."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            version = headers.get(b"mcp-protocol-version", b"").decode()
            if scope["method"] in ("GET", "DELETE"):
                await JSONResponse({"error": "this server keeps no sessions"}, status_code=405)(scope, receive, send)
                return
            if scope["method"] == "POST" and not version.startswith("2026"):
                rejection = unsupported_protocol_version_rejection(version or "2025-11-25")
                assert rejection is not None
                error = {"code": rejection.code, "message": rejection.message, "data": rejection.data}
                body = {"jsonrpc": "2.0", "error": error, "id": None}
                await JSONResponse(body, status_code=400)(scope, receive, send)
                return
        await app(scope, receive, send)

    return guarded
