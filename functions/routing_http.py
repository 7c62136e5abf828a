"""`GET /routing`: what the routing controller sees and did, for Hub.Admin and Hub.Operator."""

from __future__ import annotations

import json

import azure.functions as func
from azurefunctions.extensions.http.fastapi import Request, Response

from functions._deps import hub
from shared.errors import AuthError, UnknownServer
from shared.hub.http import HttpIn, error_reply, public_origin

bp = func.Blueprint()
ROLES = frozenset({"Hub.Admin", "Hub.Operator"})


@bp.route(route="routing", methods=[func.HttpMethod.GET], auth_level=func.AuthLevel.ANONYMOUS)
async def routing_state(req: Request) -> Response:
    current = hub()
    headers = dict(req.headers)
    origin = public_origin(current.settings.public_url, headers, f"{req.url.scheme}://{req.url.netloc}")
    request = HttpIn(method="GET", headers=headers, origin=origin)
    try:
        request = await current.service.authenticate(request)
        if current.auth.mode != "off" and not request.principal.roles & ROLES:
            raise UnknownServer("not found")  # like any route the caller may not use
    except AuthError as error:
        out = error_reply(error)
        out.headers["WWW-Authenticate"] = current.service.challenge(request, error)
        return Response(out.body, status_code=out.status, headers=out.headers)
    except UnknownServer as error:
        out = error_reply(error)
        return Response(out.body, status_code=out.status, headers=out.headers)
    routing = current.routing
    body = {
        "controller": routing.settings.kind if routing else "none",
        "regions": await routing.policy.states() if routing else {},
        "decisions": await routing.policy.recent() if routing else [],
    }
    return Response(json.dumps(body), media_type="application/json", headers={"Cache-Control": "no-store"})
