"""HTTP as the hub sees it, independent of Azure Functions: a request in, a reply out."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

from shared.errors import (
    CredentialRequired,
    HubError,
    MethodNotAllowed,
    PayloadTooLarge,
    PluginRefused,
    RateLimited,
    StorageUnavailable,
    http_status,
)
from shared.mcp import jsonrpc
from shared.mcp.envelope import field_value
from shared.mcp.jsonrpc import JsonObject, Request, RequestId
from shared.principal import ANONYMOUS, Principal

JSON = "application/json"
SSE = "text/event-stream"


@dataclass(frozen=True, slots=True)
class HttpIn:
    method: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes = b""
    route: str = ""  # "" = aggregated /mcp, else the {server} of /mcp/{server}
    origin: str = "http://127.0.0.1:7071"  # the hub's origin as the client reached it (metadata URLs)
    query: Mapping[str, str] = field(default_factory=dict[str, str])  # e.g. ?tool_search=only
    # Set by the hub once the bearer token is verified:
    principal: Principal = ANONYMOUS
    allowed: frozenset[str] | None = None  # the servers the principal may see
    assertion: str | None = None  # the caller's Entra token, kept only for on-behalf-of upstreams

    @property
    def user(self) -> str:
        return self.principal.key

    @property
    def path(self) -> str:
        return f"/mcp/{self.route}" if self.route else "/mcp"

    def header(self, name: str) -> str | None:
        """The field's value without surrounding whitespace, which HTTP does not count (RFC 9110 5.5)."""
        return field_value(self.headers, name)


@dataclass(slots=True)
class HttpOut:
    status: int
    headers: dict[str, str] = field(default_factory=dict[str, str])
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None


def json_reply(message: JsonObject, *, status: int = 200, headers: Mapping[str, str] | None = None) -> HttpOut:
    return HttpOut(status, {"Content-Type": JSON, **(headers or {})}, jsonrpc.dumps(message))


def sse_reply(
    stream: AsyncIterator[bytes] | None = None, *, body: bytes = b"", headers: Mapping[str, str] | None = None
) -> HttpOut:
    """An event stream: streamed as it is produced, or (`body`) already complete."""
    base = {"Content-Type": SSE, "Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"}
    return HttpOut(200, {**base, **(headers or {})}, body=body, stream=stream)


def error_reply(error: HubError, request_id: RequestId | None = None, *, modern: bool = False) -> HttpOut:
    headers: dict[str, str] = {}
    if isinstance(error, MethodNotAllowed):
        headers["Allow"] = error.allow
    if isinstance(error, RateLimited | StorageUnavailable):
        headers["Retry-After"] = str(error.retry_after)
    body = jsonrpc.error_response(request_id, error).to_wire()
    return json_reply(body, status=http_status(error, modern=modern), headers=headers)


def accepts(header: str | None, media_type: str) -> bool:
    if not header:
        return False
    for part in header.split(","):
        value = part.split(";")[0].strip().lower()
        if value in (media_type, "*/*", media_type.split("/")[0] + "/*"):
            return True
    return False


async def read_limited(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """Read a request body, refusing it as soon as it passes `limit` bytes (never buffers more)."""
    buffer = bytearray()
    async for chunk in chunks:
        buffer += chunk
        if len(buffer) > limit:
            raise PayloadTooLarge(f"the request body is over {limit} bytes (MCPHUB_MAX_BODY_BYTES)")
    return bytes(buffer)


def public_origin(configured: object | None, seen: str) -> str:
    """The hub's origin as its clients reach it, for URLs the hub hands out (resource metadata).

    MCPHUB_PUBLIC_URL when set (production: the Front Door host; `make run` sets it too); else the
    request's own scheme and host. X-Forwarded-Host/-Proto are not believed: any client can send
    them, and the metadata built from them is cacheable (a cache keyed on the URL would hand a
    forged `resource` to everyone).
    """
    if configured is not None:
        return str(configured).rstrip("/")
    return seen.rstrip("/")


def request_error(error: HubError, request: Request) -> jsonrpc.Response:
    """The answer to a request that failed. A tools/call answers with a tool error (isError) the
    model and user read, instead of a protocol error, when the user must connect an account (with
    the link) or a plugin refused (MCP: input validation errors are tool execution errors)."""
    if request.method == "tools/call" and isinstance(error, CredentialRequired | PluginRefused):
        meta = (
            {"io.mcphub/connect": error.data}
            if isinstance(error, CredentialRequired)
            else {"io.mcphub/plugin": error.plugin}
        )
        result: JsonObject = {"content": [{"type": "text", "text": error.message}], "isError": True, "_meta": meta}
        return jsonrpc.Response(request.id, result)
    return jsonrpc.error_response(request.id, error)


def request_error_reply(error: HubError, request: Request, *, modern: bool = False) -> HttpOut:
    """The reply to a request that failed (see `request_error`)."""
    if request.method == "tools/call" and isinstance(error, CredentialRequired | PluginRefused):
        return json_reply(request_error(error, request).to_wire())
    return error_reply(error, request.id, modern=modern)
