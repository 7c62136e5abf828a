"""`/ops/openapi.json`: the OpenAPI 3.1 description of the operator API, generated from the models
in `models.py` and the operation table below, so it says what the handlers (which answer through
the same models) send.

The table is the one place an operator route is described; `tests/unit/test_operator_api_document.py`
checks that every route `function_app.py` registers under `ops/`, `routing`, `oauth/` and
`.well-known/` has an entry here, and the e2e tests validate real answers against the document.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shared.identity.access import ADMIN, OPERATORS
from shared.operator_api import models as m

JsonObject = dict[str, Any]
VERSION = "1.0.0"
_REF = "#/components/schemas/{model}"


@dataclass(frozen=True)
class Reply:
    status: int
    description: str
    model: type[BaseModel] | None = None
    media: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()  # (name, description)
    text: bool = False  # a body that is not JSON (a page, CSV): a string


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # OpenAPI path template, e.g. /ops/audit or /mcp/{server} style
    operation_id: str
    summary: str
    tag: str
    replies: tuple[Reply, ...]
    roles: frozenset[str] | None = None  # None: no sign-in
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    body_media: str = "application/json"
    facade: bool = False  # exists only when the hub is its own authorization server
    description: str = ""
    path_params: tuple[tuple[str, str], ...] = field(default=())  # (name, description)


_CHALLENGE = (("WWW-Authenticate", "Bearer, with resource_metadata and scope (RFC 9728 §5.1)"),)
_NO_STORE = (("Cache-Control", "no-store"),)
_SIGNED_IN = (
    Reply(401, "No token, or one that is expired, forged or for another audience.", m.JsonRpcError, headers=_CHALLENGE),
    Reply(404, "The caller lacks the role: the route answers as if it did not exist.", m.JsonRpcError),
)
_OTHER_TENANT = Reply(403, "The caller is an admin of one tenant, and the query names another.", m.BadRequest)
_BAD = Reply(400, "A parameter the endpoint cannot use; `error` says which and how to fix it.", m.BadRequest)
_OUTAGE = Reply(
    503, "The hub's storage is down; retry after the given time.", m.OAuthError, headers=(("Retry-After", "seconds"),)
)
_REDIRECT = (("Location", "where the browser goes next"),)
_HTML = "text/html; charset=utf-8"


def _ops(
    path: str, operation_id: str, summary: str, model: type[BaseModel], *, roles: frozenset[str] = OPERATORS, **kw: Any
) -> Operation:
    bad = (_BAD,) if kw.get("query") is not None else ()
    other = (_OTHER_TENANT,) if kw.pop("tenant_filtered", False) else ()
    replies = (Reply(200, summary, model, headers=_NO_STORE), *bad, *other, *_SIGNED_IN, _OUTAGE)
    return Operation("get", path, operation_id, summary, "operations", replies, roles=roles, **kw)


OPERATIONS: tuple[Operation, ...] = (
    _ops("/ops/openapi.json", "openapi", "This document.", m.OpenApiDocument),
    _ops("/ops/whoami", "whoami", "Who is signed in, and where this instance runs.", m.Whoami),
    _ops("/ops/servers", "servers", "The upstream servers with their health and last hour's usage.", m.Servers),
    _ops("/ops/config", "config", "The running configuration, secrets masked.", m.RunningConfig),
    _ops(
        "/ops/usage",
        "usage",
        "Requests, errors and latency by server, tool, user, region and plugin (at most 31 days).",
        m.Usage,
        query=m.TimeRange,
    ),
    _ops("/ops/advice", "advice", "What the last week's usage says about the servers configured now.", m.Advice),
    _ops(
        "/ops/audit",
        "auditSearch",
        "Audit records, filtered and paged.",
        m.AuditPage,
        roles=ADMIN,
        query=m.AuditParams,
        tenant_filtered=True,
    ),
    Operation(
        "get",
        "/ops/audit/export",
        "auditExport",
        "Every matching audit record, as CSV (with a header row) or JSON Lines (one record per line).",
        "operations",
        (
            Reply(200, "The records, as an attachment (Content-Disposition).", m.AuditRecord, "application/x-ndjson"),
            _BAD,
            _OTHER_TENANT,
            *_SIGNED_IN,
            _OUTAGE,
        ),
        roles=ADMIN,
        query=m.ExportParams,
        description="`format=csv` answers `text/csv; charset=utf-8` with the columns of an audit record.",
    ),
    _ops(
        "/ops/audit/verify",
        "auditVerify",
        "The hash chains of a time range, checked.",
        m.Verification,
        roles=ADMIN,
        query=m.TimeRange,
        description="An admin of one tenant gets the verdict on the whole chains (a break anywhere may have "
        "taken their records) with their own records counted; see `Verification`.",
    ),
    _ops(
        "/ops/recommend",
        "recommend",
        "MCP servers for a need in plain words, with the settings that add them.",
        m.Recommendation,
        query=m.RecommendParams,
    ),
    _ops(
        "/ops/workflow",
        "workflow",
        "A plan of tool calls for a goal, from the caller's own tools.",
        m.Plan,
        query=m.WorkflowParams,
    ),
    _ops(
        "/ops/forecast",
        "forecast",
        "Today's request rate for a region, with the capacity it needs.",
        m.Forecast,
        query=m.ForecastParams,
        description="The hub's whole load: an operator who sees one tenant only gets 404, as for a route "
        "their role does not reach.",
    ),
    _ops(
        "/ops/scaling",
        "scaling",
        "What the capacity controller plans for each region's Flex settings, and what it changed.",
        m.Scaling,
        description="Each decision carries its inputs (the forecast peaks, the load moved from drained "
        "regions) and the guardrails that bound it. The hub's whole capacity: an operator who sees one "
        "tenant only gets 404.",
    ),
    _ops("/routing", "routing", "What the routing controller sees and did.", m.Routing),
    Operation(
        "get",
        "/.well-known/oauth-protected-resource",
        "resourceMetadataRoot",
        "Protected Resource Metadata for /mcp (RFC 9728).",
        "oauth",
        (Reply(200, "The metadata.", m.ProtectedResourceMetadata),),
    ),
    Operation(
        "get",
        "/.well-known/oauth-protected-resource/mcp",
        "resourceMetadata",
        "Protected Resource Metadata for /mcp (RFC 9728).",
        "oauth",
        (Reply(200, "The metadata.", m.ProtectedResourceMetadata),),
    ),
    Operation(
        "get",
        "/.well-known/oauth-protected-resource/mcp/{server}",
        "resourceMetadataServer",
        "Protected Resource Metadata for /mcp/{server} (RFC 9728); answered for any well-formed name.",
        "oauth",
        (Reply(200, "The metadata.", m.ProtectedResourceMetadata), Reply(404, "Not a server name.")),
        path_params=(("server", "a server name: letters, digits, - and _"),),
    ),
    Operation(
        "get",
        "/.well-known/oauth-authorization-server",
        "authorizationServerMetadata",
        "The hub's authorization server metadata (RFC 8414).",
        "oauth",
        (Reply(200, "The metadata.", m.AuthorizationServerMetadata),),
        facade=True,
    ),
    Operation(
        "get",
        "/oauth/jwks",
        "jwks",
        "The keys the hub's access tokens are signed with (RFC 7517).",
        "oauth",
        (Reply(200, "The key set.", m.Jwks), _OUTAGE),
        facade=True,
    ),
    Operation(
        "post",
        "/oauth/register",
        "register",
        "Dynamic client registration (RFC 7591), limited per client address.",
        "oauth",
        (
            Reply(201, "The registered client.", m.ClientRegistration, headers=_NO_STORE),
            Reply(400, "invalid_client_metadata or invalid_redirect_uri.", m.OAuthError),
            Reply(429, "Too many registrations from this address.", m.OAuthError, headers=(("Retry-After", "s"),)),
            _OUTAGE,
        ),
        body=m.ClientMetadata,
        facade=True,
    ),
    Operation(
        "get",
        "/oauth/authorize",
        "authorize",
        "The authorization endpoint (authorization code with PKCE S256): on to consent or sign-in.",
        "oauth",
        (
            Reply(302, "To the sign-in, or back to the client with a code or an error.", headers=_REDIRECT),
            Reply(200, "The consent page.", media=_HTML, text=True),
            Reply(
                400,
                "A request that cannot be sent back to the client (unknown client or redirect).",
                media=_HTML,
                text=True,
            ),
            _OUTAGE,
        ),
        query=m.AuthorizeParams,
        facade=True,
    ),
    Operation(
        "post",
        "/oauth/consent",
        "consent",
        "The consent page's answer.",
        "oauth",
        (
            Reply(302, "On to sign-in, or back to the client with access_denied.", headers=_REDIRECT),
            Reply(400, "The form could not be read.", media="text/plain", text=True),
            Reply(403, "A forged, expired, replayed or foreign form.", media=_HTML, text=True),
            _OUTAGE,
        ),
        body=m.ConsentForm,
        body_media="application/x-www-form-urlencoded",
        facade=True,
    ),
    Operation(
        "get",
        "/oauth/callback",
        "callback",
        "Where the upstream identity provider sends the browser back.",
        "oauth",
        (
            Reply(302, "Back to the client with a code or an error.", headers=_REDIRECT),
            Reply(400, "An expired or used sign-in.", media=_HTML, text=True),
            _OUTAGE,
        ),
        query=m.CallbackParams,
        facade=True,
    ),
    Operation(
        "get",
        "/oauth/connect-callback",
        "connectCallback",
        "Where an upstream's authorization server sends a user back after connecting their own account.",
        "oauth",
        (
            Reply(200, "The page that says the account is connected, or why not.", media=_HTML, text=True),
            Reply(302, "On to the page the user started from.", headers=_REDIRECT),
            Reply(400, "An expired, used or foreign sign-in.", media=_HTML, text=True),
            Reply(404, "No server takes per-user OAuth credentials."),
            _OUTAGE,
        ),
        query=m.CallbackParams,
    ),
    Operation(
        "post",
        "/oauth/token",
        "token",
        "The token endpoint: an authorization code or a refresh token for an access token (RFC 6749).",
        "oauth",
        (
            Reply(200, "The tokens.", m.TokenResponse, headers=_NO_STORE),
            Reply(400, "invalid_request, invalid_grant, unsupported_grant_type, ...", m.OAuthError),
            _OUTAGE,
        ),
        body=m.TokenForm,
        body_media="application/x-www-form-urlencoded",
        facade=True,
    ),
)


@dataclass(frozen=True)
class Security:
    """How a caller gets a token: from the hub's facade or from Entra directly."""

    authorization_url: str
    token_url: str
    scope: str


def document(origin: str, security: Security, *, facade: bool) -> JsonObject:
    """The OpenAPI 3.1 document for the hub at `origin` (the facade's routes only when it is on)."""
    operations = [o for o in OPERATIONS if facade or not o.facade]
    schemas = _schemas(operations)
    paths: dict[str, JsonObject] = {}
    for operation in operations:
        paths.setdefault(operation.path, {})[operation.method] = _operation(operation, security)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "MCPHub operator API",
            "version": VERSION,
            "description": (
                "The operator endpoints of an MCPHub (`/ops/*`, `/routing`) and its OAuth routes. Operator "
                "routes need a token with the scope below and one of the roles in each operation's "
                "`x-required-roles`; without the role a route answers 404 as if it did not exist."
            ),
        },
        "servers": [{"url": origin}],
        "tags": [
            {"name": "operations", "description": "For Hub.Admin and Hub.Operator."},
            {"name": "oauth", "description": "For MCP clients signing in."},
        ],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "oauth2": {
                    "type": "oauth2",
                    "description": "Authorization code with PKCE, as MCP clients sign in.",
                    "flows": {
                        "authorizationCode": {
                            "authorizationUrl": security.authorization_url,
                            "tokenUrl": security.token_url,
                            "scopes": {security.scope: "use the hub"},
                        }
                    },
                },
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            },
        },
    }


def _schemas(operations: Sequence[Operation]) -> JsonObject:
    used: dict[type[BaseModel], None] = {}
    for operation in operations:
        for reply in operation.replies:
            if reply.model is not None:
                used[reply.model] = None
        if operation.body is not None:
            used[operation.body] = None
    _, top = models_json_schema([(model, "serialization") for model in used], ref_template=_REF)
    return dict(sorted(top.get("$defs", {}).items()))


def _operation(operation: Operation, security: Security) -> JsonObject:
    out: JsonObject = {
        "operationId": operation.operation_id,
        "summary": operation.summary,
        "tags": [operation.tag],
        "responses": {str(reply.status): _reply(reply) for reply in operation.replies},
    }
    if operation.description:
        out["description"] = operation.description
    parameters = [
        {"name": name, "in": "path", "required": True, "description": text, "schema": {"type": "string"}}
        for name, text in operation.path_params
    ]
    if operation.query is not None:
        parameters += _query(operation.query)
    if parameters:
        out["parameters"] = parameters
    if operation.body is not None:
        out["requestBody"] = {
            "required": True,
            "content": {operation.body_media: {"schema": {"$ref": _REF.format(model=operation.body.__name__)}}},
        }
    if operation.roles is not None:
        out["security"] = [{"oauth2": [security.scope]}, {"bearer": []}]
        out["x-required-roles"] = sorted(operation.roles)
    else:
        out["security"] = []
    return out


def _reply(reply: Reply) -> JsonObject:
    out: JsonObject = {"description": reply.description}
    if reply.headers:
        out["headers"] = {name: {"description": text, "schema": {"type": "string"}} for name, text in reply.headers}
    if reply.model is not None:
        out["content"] = {reply.media: {"schema": {"$ref": _REF.format(model=reply.model.__name__)}}}
    elif reply.text:
        out["content"] = {reply.media: {"schema": {"type": "string"}}}
    return out


def _query(model: type[BaseModel]) -> list[JsonObject]:
    schema = model.model_json_schema(mode="validation")
    required = set(schema.get("required", []))
    parameters: list[JsonObject] = []
    for name, prop in schema["properties"].items():
        described = dict(prop)
        description = described.pop("description", None)
        described.pop("title", None)
        parameter: JsonObject = {"name": name, "in": "query", "required": name in required, "schema": described}
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters
