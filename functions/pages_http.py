"""The hub's web pages: `/start` (connect an IDE: one-click install links and config) and `/operator`
(the operator page: plain HTML, CSS and JavaScript from functions/pages/, no build step)."""

from __future__ import annotations

import html
import json
from functools import cache
from pathlib import Path

import azure.functions as func
from azurefunctions.extensions.http.fastapi import Request, Response

from functions._deps import hub
from shared.http import public_origin
from shared.hub.install import install_options
from shared.identity.clients import OPERATOR_PAGE_CLIENT

bp = func.Blueprint()
PAGES = Path(__file__).parent / "pages"
_TYPES = {"operator.js": "text/javascript; charset=utf-8", "operator.css": "text/css; charset=utf-8"}
# The pages load nothing from elsewhere and are never framed; the sign-in leaves by navigation.
_SECURITY = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@cache
def _read(name: str) -> str:
    return (PAGES / name).read_text(encoding="utf-8")


def _origin(req: Request) -> str:
    return public_origin(hub().settings.public_url, f"{req.url.scheme}://{req.url.netloc}")


def _page(text: str) -> Response:
    headers = {**_SECURITY, "Cache-Control": "no-store"}
    return Response(text, media_type="text/html; charset=utf-8", headers=headers)


@bp.route(route="start", methods=[func.HttpMethod.GET], auth_level=func.AuthLevel.ANONYMOUS)
async def start(req: Request) -> Response:
    options = install_options(_origin(req) + "/mcp")
    text = _read("landing.html")
    for name, value in {
        "URL": options.url,
        "CURSOR_LINK": options.cursor_link,
        "VSCODE_LINK": options.vscode_link,
        "VSCODE_INSIDERS_LINK": options.vscode_insiders_link,
        "CURSOR_JSON": options.cursor_json,
        "VSCODE_JSON": options.vscode_json,
        "CLAUDE_COMMAND": options.claude_command,
    }.items():
        text = text.replace("{{" + name + "}}", html.escape(value))
    return _page(text)


@bp.route(route="operator", methods=[func.HttpMethod.GET], auth_level=func.AuthLevel.ANONYMOUS)
async def operator_page(req: Request) -> Response:
    origin = _origin(req)
    current = hub()
    facade = current.identity.oauth is not None
    config = {
        "clientId": OPERATOR_PAGE_CLIENT if facade else None,
        "redirectUri": f"{origin}/operator",
        "authorize": f"{origin}/oauth/authorize",
        "token": f"{origin}/oauth/token",
        "resource": f"{origin}/mcp",
    }
    # JSON inside <script>: "</" must not end the element early.
    embedded = json.dumps(config).replace("</", "<\\/")
    return _page(_read("operator.html").replace("{{CONFIG}}", embedded))


@bp.route(route="operator/assets/{name}", methods=[func.HttpMethod.GET], auth_level=func.AuthLevel.ANONYMOUS)
async def asset(req: Request) -> Response:
    name = req.path_params["name"]
    if name not in _TYPES:
        return Response(status_code=404)
    headers = {**_SECURITY, "Cache-Control": "public, max-age=300"}
    return Response(_read(name), media_type=_TYPES[name], headers=headers)
