"""The hub's one error tree, and the single place it maps to JSON-RPC codes and HTTP statuses.

    HubError                      base; never raised itself
    ├── ConfigError               bad settings at start-up (names the environment variable)
    ├── TransportError            the HTTP request cannot be handled as MCP at all
    │   ├── ForbiddenOrigin       403  Origin header not allowed (DNS-rebinding protection)
    │   ├── MethodNotAllowed      405  e.g. GET/DELETE on the stateless 2026-07-28 era
    │   ├── NotAcceptable         406  Accept lacks application/json (and text/event-stream)
    │   ├── PayloadTooLarge       413  body over MCPHUB_MAX_BODY_BYTES
    │   └── UnsupportedMediaType  415  Content-Type is not application/json
    ├── ProtocolError             a JSON-RPC level problem, answered with a JSON-RPC error object
    │   ├── ParseError            -32700  400
    │   ├── InvalidRequest        -32600  400  (also batches, posted responses we cannot route)
    │   ├── MethodNotFound        -32601
    │   ├── InvalidParams         -32602  (unknown tool/prompt/resource too, as the MCP spec says)
    │   ├── HeaderMismatch        -32020  400  (2026-07-28 routing headers disagree with the body)
    │   ├── MissingClientCapability -32021 400  2026-07-28: the request needs a capability the client did
    │   │                                       not declare; data = {requiredCapabilities: {sampling: {}}}
    │   ├── UnsupportedVersion    -32600  400  handshake era: MCP-Protocol-Version not supported
    │   └── UnsupportedProtocolVersion -32022 400  2026-07-28: data = {supported, requested}
    ├── SessionError
    │   ├── SessionRequired       -32600  400  no Mcp-Session-Id on a non-initialize request
    │   └── SessionNotFound       -32001  404  unknown, expired, malformed, or someone else's session
    │       └── ForeignSession    (the same answer) someone else's session, audited as such
    ├── UnknownServer             -32601  404  /mcp/{server} names no server the caller may use
    ├── StorageUnavailable        -32603  503  a table did not answer within MCPHUB_STORAGE_TIMEOUT_SECONDS (or
    │                                           refused the connection); Retry-After, data = {store, retryAfter}
    ├── RateLimited               -32029  429  a rate limit (MCPHUB_LIMIT_<NAME>) is spent; Retry-After
    │                                           and data = {limit, retryAfter} say which and for how long
    ├── PluginRefused             -32602       a plugin (MCPHUB_PLUGIN_<NAME>) refused the request; data = {plugin}
    ├── PluginWithheld            -32603       a plugin refused the upstream's answer, or failed in enforce mode
    │                                           (a tools/call answers both with a tool error the model reads)
    ├── AuthError                 answered with a `WWW-Authenticate: Bearer` challenge (RFC 6750, RFC 9728)
    │   ├── Unauthenticated       -32600  401  no token, or one not valid for this hub (expired, other
    │   │                                       audience, issuer, tenant, signature...); the body says no more
    │   ├── InsufficientScope     -32600  403  a valid token without the scope the hub requires
    │   └── StepUpRequired        -32600  401  a server needs an auth context (acrs) the token lacks
    └── UpstreamError             -32603  names the server; the hub keeps serving the others
        ├── UpstreamUnavailable   connect failure, HTTP 5xx, or circuit open
        │   ├── UpstreamThrottled the upstream answered 429
        │   └── UpstreamRefused   another 4xx without a JSON-RPC answer (e.g. initialize to a 2026-only server)
        ├── UpstreamTimeout       no answer within MCPHUB_SERVER_<NAME>__TIMEOUT
        ├── UpstreamProtocolError the upstream answered something that is not MCP
        ├── UpstreamSessionExpired  404 to the hub's upstream session ID: initialize again, retry once
        ├── UpstreamUnauthorized  401: the credential the hub sent for this user is not (or no longer) valid
        └── CredentialRequired    the user must connect their account first (a tools/call answers with a
                                  tool error carrying the connect link, not a protocol error)

HTTP status rules: transport errors carry their own status. JSON-RPC errors are sent with the status
`http_status` gives for the era (`modern` = 2026-07-28 maps codes to 4xx as its spec requires;
the handshake era answers method-level errors with 200). Messages say what was wrong and what to
do, and never contain tokens, secrets or stack traces.
"""

from __future__ import annotations

from typing import Any, ClassVar

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SESSION_NOT_FOUND = -32001
HEADER_MISMATCH = -32020
MISSING_REQUIRED_CLIENT_CAPABILITY = -32021
UNSUPPORTED_PROTOCOL_VERSION = -32022
RATE_LIMITED = -32029

# 2026-07-28 transports map these codes to HTTP statuses; everything else is 200.
_MODERN_STATUS: dict[int, int] = {
    PARSE_ERROR: 400,
    INVALID_REQUEST: 400,
    INVALID_PARAMS: 400,
    HEADER_MISMATCH: 400,
    MISSING_REQUIRED_CLIENT_CAPABILITY: 400,
    UNSUPPORTED_PROTOCOL_VERSION: 400,
    METHOD_NOT_FOUND: 404,
}


class HubError(Exception):
    """Base of every error the hub raises on purpose."""

    code: ClassVar[int] = INTERNAL_ERROR
    status: ClassVar[int] = 500

    def __init__(self, message: str, *, data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data

    def to_error_object(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


class ConfigError(HubError):
    """Settings are invalid; raised at start-up, never per request."""


class TransportError(HubError):
    """The HTTP request cannot be served as MCP; answered with `status` and a JSON-RPC error body."""

    code = INVALID_REQUEST
    status = 400


class ForbiddenOrigin(TransportError):
    status = 403


class MethodNotAllowed(TransportError):
    status = 405

    def __init__(self, message: str, *, allow: str) -> None:
        super().__init__(message)
        self.allow = allow


class NotAcceptable(TransportError):
    status = 406


class PayloadTooLarge(TransportError):
    status = 413


class UnsupportedMediaType(TransportError):
    status = 415


class ProtocolError(HubError):
    code = INVALID_REQUEST
    status = 400


class ParseError(ProtocolError):
    code = PARSE_ERROR


class InvalidRequest(ProtocolError):
    code = INVALID_REQUEST


class MethodNotFound(ProtocolError):
    code = METHOD_NOT_FOUND
    status = 200


class InvalidParams(ProtocolError):
    code = INVALID_PARAMS
    status = 200


class HeaderMismatch(ProtocolError):
    code = HEADER_MISMATCH


class MissingClientCapability(ProtocolError):
    code = MISSING_REQUIRED_CLIENT_CAPABILITY


class UnsupportedVersion(ProtocolError):
    code = INVALID_REQUEST


class UnsupportedProtocolVersion(ProtocolError):
    code = UNSUPPORTED_PROTOCOL_VERSION


class SessionError(HubError):
    code = INVALID_REQUEST
    status = 400


class SessionRequired(SessionError):
    pass


class SessionNotFound(SessionError):
    code = SESSION_NOT_FOUND
    status = 404


class ForeignSession(SessionNotFound):
    """Another user's session: answered exactly as an unknown one, told apart only for the audit trail."""


class UnknownServer(HubError):
    code = METHOD_NOT_FOUND
    status = 404


class StorageUnavailable(HubError):
    """Table Storage did not answer in time: answered at once with 503 so clients and Front Door
    move on (to another instance or region) instead of hanging on a frozen store."""

    code = INTERNAL_ERROR
    status = 503

    def __init__(self, message: str, *, store: str, retry_after: int = 5) -> None:
        super().__init__(message, data={"store": store, "retryAfter": retry_after})
        self.store = store
        self.retry_after = retry_after


class RateLimited(HubError):
    code = RATE_LIMITED
    status = 429

    def __init__(self, message: str, *, limit: str, retry_after: int) -> None:
        super().__init__(message, data={"limit": limit, "retryAfter": retry_after})
        self.limit = limit
        self.retry_after = retry_after


class PluginRefused(HubError):
    """A plugin refused the request before it reached the upstream; the message is the plugin's own."""

    code = INVALID_PARAMS
    status = 200

    def __init__(self, message: str, *, plugin: str) -> None:
        super().__init__(message, data={"plugin": plugin})
        self.plugin = plugin


class PluginWithheld(PluginRefused):
    """A plugin refused what the upstream answered, or failed (timed out, raised) in enforce mode."""

    code = INTERNAL_ERROR


class AuthError(HubError):
    """The caller is not (sufficiently) authenticated. The message is safe to show; the reason a
    token was refused is logged, never sent, so the answer does not help anyone forge one."""

    code = INVALID_REQUEST
    status = 401
    challenge_error: ClassVar[str] = "invalid_token"


class Unauthenticated(AuthError):
    pass


class InsufficientScope(AuthError):
    status = 403
    challenge_error = "insufficient_scope"


class StepUpRequired(AuthError):
    """The server needs a Conditional Access authentication context the token does not carry.

    Answered with Entra's claims challenge, so the client signs in again satisfying it (MFA...).
    """

    challenge_error = "insufficient_claims"

    def __init__(self, message: str, *, auth_context: str) -> None:
        super().__init__(message)
        self.auth_context = auth_context


class UpstreamError(HubError):
    """Anything that went wrong talking to one upstream; `server` names it."""

    code = INTERNAL_ERROR
    status = 200

    def __init__(self, server: str, message: str, *, data: Any = None) -> None:
        super().__init__(message, data=data)
        self.server = server


class UpstreamUnavailable(UpstreamError):
    pass


class UpstreamTimeout(UpstreamError):
    pass


class UpstreamProtocolError(UpstreamError):
    pass


class HubBusy(UpstreamError):
    """This instance had no free connection to the upstream in time: its own load, not a failure of
    the upstream, so the upstream's circuit breaker does not count it."""


class UpstreamThrottled(UpstreamUnavailable):
    """The upstream answered 429: too many requests from the hub."""


class UpstreamRefused(UpstreamUnavailable):
    """The upstream answered another 4xx with no JSON-RPC answer in it (a request it will not serve)."""


class UpstreamSessionExpired(UpstreamError):
    """The upstream answered 404 to our session ID: initialize again and retry once."""


class UpstreamUnauthorized(UpstreamError):
    """The upstream answered 401: the credentials the hub sent for this user are not (or no longer) valid."""


class CredentialRequired(UpstreamError):
    """The user must connect their account for this server (first time, expired or revoked)."""


def modern_status(code: object) -> int:
    """The HTTP status a 2026-07-28 JSON-RPC error with `code` travels with (an upstream's too)."""
    return _MODERN_STATUS.get(code, 200) if isinstance(code, int) else 200


def http_status(error: HubError, *, modern: bool) -> int:
    """The HTTP status a JSON-RPC error body travels with, per era."""
    if isinstance(error, TransportError | SessionError | UnknownServer | AuthError | RateLimited | StorageUnavailable):
        return error.status
    if modern:
        return modern_status(error.code)
    if isinstance(error, ProtocolError) and error.code in (PARSE_ERROR, INVALID_REQUEST):
        return 400
    return 200
