"""What every operator endpoint shares: the caller must hold one of the operator roles."""

from __future__ import annotations

import json
from typing import Any

from azurefunctions.extensions.http.fastapi import Request, Response
from pydantic import BaseModel

from functions._deps import hub
from shared.audit.events import audit
from shared.errors import AuthError, UnknownServer
from shared.http import HttpIn, error_reply, public_origin
from shared.identity.access import ADMIN, OPERATORS
from shared.identity.scope import Scope, operator_scope
from shared.operator_api import answer
from shared.operator_api.models import BadRequest
from shared.principal import Principal

__all__ = [
    "ADMIN",
    "OPERATORS",
    "Scope",
    "bad_request",
    "forbidden",
    "hidden",
    "json_response",
    "model_response",
    "operator",
    "operator_request",
    "scope_of",
]


async def operator(req: Request, roles: frozenset[str]) -> Principal | Response:
    """The caller, or the response refusing them (401 with a challenge, or 404 like any hidden route)."""
    request = await operator_request(req, roles)
    return request if isinstance(request, Response) else request.principal


async def operator_request(req: Request, roles: frozenset[str]) -> HttpIn | Response:
    """Like `operator`, but the whole authenticated request (with the servers the caller may see)."""
    current = hub()
    headers = dict(req.headers)
    origin = public_origin(current.settings.public_url, f"{req.url.scheme}://{req.url.netloc}")
    request = HttpIn(method=req.method, headers=headers, origin=origin)
    try:
        request = await current.service.authenticate(request)
        if current.auth.mode != "off" and not request.principal.roles & roles:
            audit("access.denied", user=request.principal.key, path=req.url.path, needs=sorted(roles))
            raise UnknownServer("not found")
    except AuthError as error:
        out = error_reply(error)
        out.headers["WWW-Authenticate"] = current.service.challenge(request, error)
        return Response(out.body, status_code=out.status, headers=out.headers)
    except UnknownServer:
        return hidden()
    return request


def hidden() -> Response:
    """404, as for any route that does not exist: what a caller gets from a route they may not use."""
    out = error_reply(UnknownServer("not found"))
    return Response(out.body, status_code=out.status, headers=out.headers)


def json_response(body: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(body, default=str),
        status_code=status,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def model_response(model: type[BaseModel], body: Any) -> Response:
    """A 200 whose body is checked against the model `/ops/openapi.json` publishes for it."""
    return json_response(answer(model, body))


def bad_request(message: str) -> Response:
    return json_response(answer(BadRequest, {"error": message}), 400)


def forbidden(message: str) -> Response:
    """403: the caller may use the route, but not for what they asked (another tenant's records)."""
    return json_response(answer(BadRequest, {"error": message}), 403)


def scope_of(caller: Principal) -> Scope:
    """What this operator or admin sees: the whole hub, or their own tenant (shared/identity/scope.py)."""
    current = hub()
    return operator_scope(caller, current.auth, current.tenants.label(caller.tenant_id))
