"""The pages where users connect their own accounts for upstream servers (shared/identity/connect.py)."""

from __future__ import annotations

from urllib.parse import parse_qsl

import azure.functions as func
from azurefunctions.extensions.http.fastapi import Request, Response

from functions._deps import hub
from functions._outages import answers_outages
from shared.errors import HubError
from shared.http import HttpOut, read_limited

bp = func.Blueprint()
_FORM_LIMIT = 16 * 1024
_ANON = func.AuthLevel.ANONYMOUS


def _render(out: HttpOut) -> Response:
    return Response(content=out.body, status_code=out.status, headers=out.headers)


# Not under connect/: `connect/{server}` would capture it (route order decides on the real host).
@bp.route(route="oauth/connect-callback", methods=["GET"], auth_level=_ANON)
@answers_outages
async def connect_callback(req: Request) -> Response:
    pages = hub().identity.connect
    return _render(await pages.callback(dict(req.query_params), req.cookies)) if pages else Response(status_code=404)


@bp.route(route="connect/{server}/signed-in", methods=["GET"], auth_level=_ANON)
@answers_outages
async def connect_signed_in(req: Request) -> Response:
    pages = hub().identity.connect
    if pages is None:
        return Response(status_code=404)
    return _render(await pages.signed_in(req.path_params["server"], dict(req.query_params), req.cookies))


@bp.route(route="connect/{server}", methods=["GET", "POST"], auth_level=_ANON)
@answers_outages
async def connect(req: Request) -> Response:
    pages = hub().identity.connect
    if pages is None:
        return Response(status_code=404)
    server = req.path_params["server"]
    if req.method == "GET":
        query = req.query_params
        return _render(await pages.start(server, query.get("ticket", ""), query.get("login_hint")))
    try:
        form = dict(parse_qsl((await read_limited(req.stream(), _FORM_LIMIT)).decode()))
    except (HubError, UnicodeDecodeError):
        return Response("the form could not be read", status_code=400)
    return _render(await pages.submit(server, form, req.cookies))
