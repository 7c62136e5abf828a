"""The hub as an OAuth 2.1 protected resource (MCP authorization; RFC 9728 and RFC 6750).

Every MCP endpoint has its Protected Resource Metadata at the well-known URL formed by inserting
`/.well-known/oauth-protected-resource` before its path, and every refusal carries a
`WWW-Authenticate: Bearer` challenge pointing there, so a client can discover where to sign in.
"""

from __future__ import annotations

import base64
import json

from shared.errors import AuthError, StepUpRequired
from shared.mcp.jsonrpc import JsonObject
from shared.settings import AuthSettings

WELL_KNOWN = "/.well-known/oauth-protected-resource"


def metadata_url(origin: str, path: str) -> str:
    return f"{origin}{WELL_KNOWN}{path}"


def metadata(settings: AuthSettings, origin: str, path: str, authorization_servers: list[str]) -> JsonObject:
    """RFC 9728 metadata for the MCP endpoint at `path` (e.g. "/mcp" or "/mcp/github")."""
    return {
        "resource": f"{origin}{path}",
        "authorization_servers": authorization_servers,
        "scopes_supported": [scope_value(settings)],
        "bearer_methods_supported": ["header"],
        "resource_name": "MCPHub",
    }


def scope_value(settings: AuthSettings) -> str:
    """The one scope string a client requests, wherever it is advertised (resource metadata, the
    challenge, the facade's metadata and token replies): with the facade, the hub is the
    authorization server and the scope is plain (`MCP.Access`); without it, clients ask Entra,
    which wants it qualified by the App ID URI (`api://<app>/MCP.Access`)."""
    if settings.facade:
        return settings.scope
    uri = next((a for a in settings.audiences if "://" in a), None)
    return f"{uri.rstrip('/')}/{settings.scope}" if uri else settings.scope


def challenge(settings: AuthSettings, error: AuthError | None, origin: str, path: str) -> str:
    """The WWW-Authenticate value for a 401/403 on `path`."""
    parts = [f'resource_metadata="{metadata_url(origin, path)}"', f'scope="{scope_value(settings)}"']
    if error is not None and (error.status == 403 or error.message != MISSING):
        parts.insert(0, f'error="{error.challenge_error}"')
    if isinstance(error, StepUpRequired):
        parts.append(f'claims="{claims_challenge(error.auth_context)}"')
    return "Bearer " + ", ".join(parts)


def claims_challenge(auth_context: str) -> str:
    """Entra's claims challenge for a Conditional Access authentication context (base64 JSON)."""
    claims = {"access_token": {"acrs": {"essential": True, "value": auth_context}}}
    return base64.b64encode(json.dumps(claims, separators=(",", ":")).encode()).decode()


MISSING = "this hub needs an access token: sign in (see WWW-Authenticate for where)"
