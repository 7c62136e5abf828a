"""OAuth for MCP clients: Protected Resource Metadata (RFC 9728) for `/mcp` and `/mcp/{server}`,
and, when the facade is on, the hub's authorization server (metadata, registration, authorize,
callback, token, JWKS). The logic is in shared/identity/facade.py; this module only adapts HTTP.

Resource metadata is answered for any well-formed server name, so it does not reveal which exist.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl

import azure.functions as func
from azurefunctions.extensions.http.fastapi import Request, Response

from functions._deps import hub
from functions._outages import answers_outages
from shared.errors import HubError
from shared.http import HttpOut, public_origin, read_limited
from shared.identity.client_address import client_address
from shared.identity.facade import AuthorizationServer
from shared.identity.resource import metadata
from shared.operator_api import answer, models

bp = func.Blueprint()
_SERVER_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_FORM_LIMIT = 64 * 1024
_PUBLIC = {"Cache-Control": "public, max-age=3600", "Access-Control-Allow-Origin": "*"}
_ANON = func.AuthLevel.ANONYMOUS


def _render(out: HttpOut) -> Response:
    return Response(content=out.body, status_code=out.status, headers=out.headers)


def _json(body: object, headers: dict[str, str] | None = None, status: int = 200) -> Response:
    return Response(json.dumps(body), status_code=status, media_type="application/json", headers=headers)


async def _form(req: Request) -> dict[str, str] | None:
    """An x-www-form-urlencoded body of at most 64 KiB, or None."""
    try:
        return dict(parse_qsl((await read_limited(req.stream(), _FORM_LIMIT)).decode()))
    except (HubError, UnicodeDecodeError):
        return None


def _oauth() -> AuthorizationServer | None:
    return hub().identity.oauth


def _resource_metadata(req: Request, path: str) -> Response:
    deps = hub()
    origin = public_origin(deps.settings.public_url, f"{req.url.scheme}://{req.url.netloc}")
    body = metadata(deps.auth, origin, path, deps.identity.authorization_servers)
    return _json(answer(models.ProtectedResourceMetadata, body), _PUBLIC)


@bp.route(route=".well-known/oauth-protected-resource", methods=["GET"], auth_level=_ANON)
async def resource_metadata_root(req: Request) -> Response:
    return _resource_metadata(req, "/mcp")


@bp.route(route=".well-known/oauth-protected-resource/mcp", methods=["GET"], auth_level=_ANON)
async def resource_metadata(req: Request) -> Response:
    return _resource_metadata(req, "/mcp")


@bp.route(route=".well-known/oauth-protected-resource/mcp/{server}", methods=["GET"], auth_level=_ANON)
async def resource_metadata_server(req: Request) -> Response:
    server = req.path_params["server"]
    if not _SERVER_NAME.fullmatch(server):
        return Response(status_code=404)
    return _resource_metadata(req, f"/mcp/{server}")


@bp.route(route=".well-known/oauth-authorization-server", methods=["GET"], auth_level=_ANON)
async def authorization_server_metadata(req: Request) -> Response:
    oauth = _oauth()
    if oauth is None:
        return Response(status_code=404)
    return _json(answer(models.AuthorizationServerMetadata, oauth.metadata()), _PUBLIC)


@bp.route(route="oauth/jwks", methods=["GET"], auth_level=_ANON)
@answers_outages
async def oauth_jwks(req: Request) -> Response:
    oauth = _oauth()
    return _json(answer(models.Jwks, await oauth.jwks()), _PUBLIC) if oauth else Response(status_code=404)


@bp.route(route="oauth/register", methods=["POST"], auth_level=_ANON)
@answers_outages
async def oauth_register(req: Request) -> Response:
    oauth = _oauth()
    if oauth is None:
        return Response(status_code=404)
    deps = hub()
    peer = req.client.host if req.client else None
    caller = client_address(dict(req.headers), peer, front_door_id=deps.settings.front_door_id)
    limiter = deps.identity.registrations
    wait = await limiter.retry_after(caller) if limiter else 0
    if wait:
        body = {"error": "too_many_requests", "error_description": f"too many registrations; retry in {wait} s"}
        return _json(body, {"Retry-After": str(wait)}, status=429)
    try:
        raw = await read_limited(req.stream(), _FORM_LIMIT)
        document = json.loads(raw)
    except (HubError, ValueError):
        return _json({"error": "invalid_client_metadata", "error_description": "send a JSON object"}, status=400)
    return _render(await oauth.register(document))


@bp.route(route="oauth/authorize", methods=["GET"], auth_level=_ANON)
@answers_outages
async def oauth_authorize(req: Request) -> Response:
    oauth = _oauth()
    return _render(await oauth.authorize(dict(req.query_params), req.cookies)) if oauth else Response(status_code=404)


@bp.route(route="oauth/consent", methods=["POST"], auth_level=_ANON)
@answers_outages
async def oauth_consent(req: Request) -> Response:
    oauth = _oauth()
    if oauth is None:
        return Response(status_code=404)
    form = await _form(req)
    if form is None:
        return Response("the form could not be read", status_code=400)
    return _render(await oauth.consent(form, req.cookies))


@bp.route(route="oauth/callback", methods=["GET"], auth_level=_ANON)
@answers_outages
async def oauth_callback(req: Request) -> Response:
    oauth = _oauth()
    return _render(await oauth.callback(dict(req.query_params))) if oauth else Response(status_code=404)


@bp.route(route="oauth/token", methods=["POST"], auth_level=_ANON)
@answers_outages
async def oauth_token(req: Request) -> Response:
    oauth = _oauth()
    if oauth is None:
        return Response(status_code=404)
    form = await _form(req)
    if form is None:
        body = {"error": "invalid_request", "error_description": "send an x-www-form-urlencoded body"}
        return _json(body, status=400)
    return _render(await oauth.token(form))
