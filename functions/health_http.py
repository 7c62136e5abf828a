"""`/health`: the deep-but-cheap probe Front Door polls; `/health/live`: the process answers at all."""

from __future__ import annotations

import json

import azure.functions as func
from azurefunctions.extensions.http.fastapi import Request, Response

from functions._deps import hub

bp = func.Blueprint()
_NO_STORE = {"Cache-Control": "no-store"}


@bp.route(route="health", methods=[func.HttpMethod.GET], auth_level=func.AuthLevel.ANONYMOUS)
async def health(req: Request) -> Response:
    healthy, body = await hub().probe.report()
    return Response(
        json.dumps(body), status_code=200 if healthy else 503, media_type="application/json", headers=_NO_STORE
    )


@bp.route(route="health/live", methods=[func.HttpMethod.GET], auth_level=func.AuthLevel.ANONYMOUS)
async def live(req: Request) -> Response:
    return Response('{"status": "live"}', media_type="application/json", headers=_NO_STORE)
