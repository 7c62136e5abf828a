"""OAuth discovery for MCP clients: Protected Resource Metadata (RFC 9728) for `/mcp` and `/mcp/{server}`.

Answered for any well-formed server name, so the metadata does not reveal which servers exist.
"""

from __future__ import annotations

import json
import re

import azure.functions as func
from azurefunctions.extensions.http.fastapi import Request, Response

from functions._deps import hub
from shared.hub.http import public_origin
from shared.identity.resource import metadata

bp = func.Blueprint()
_SERVER_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _metadata(req: Request, path: str) -> Response:
    deps = hub()
    origin = public_origin(deps.settings.public_url, dict(req.headers), f"{req.url.scheme}://{req.url.netloc}")
    return Response(
        json.dumps(metadata(deps.auth, origin, path)),
        media_type="application/json",
        headers={"Cache-Control": "public, max-age=3600", "Access-Control-Allow-Origin": "*"},
    )


@bp.route(route=".well-known/oauth-protected-resource", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def resource_metadata_root(req: Request) -> Response:
    return _metadata(req, "/mcp")


@bp.route(route=".well-known/oauth-protected-resource/mcp", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def resource_metadata(req: Request) -> Response:
    return _metadata(req, "/mcp")


@bp.route(
    route=".well-known/oauth-protected-resource/mcp/{server}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS
)
async def resource_metadata_server(req: Request) -> Response:
    server = req.path_params["server"]
    if not _SERVER_NAME.fullmatch(server):
        return Response(status_code=404)
    return _metadata(req, f"/mcp/{server}")
