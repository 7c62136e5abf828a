"""Liveness: answers as long as the worker runs; reads no storage and calls no upstream."""

from __future__ import annotations

import json

import azure.functions as func
from azurefunctions.extensions.http.fastapi import Request, Response

from functions._deps import hub

bp = func.Blueprint()


@bp.route(route="health", methods=[func.HttpMethod.GET], auth_level=func.AuthLevel.ANONYMOUS)
async def health(req: Request) -> Response:
    current = hub()
    body = {
        "status": "ok",
        "instance": current.settings.instance_name,
        "servers": {name: {"breaker": b.state} for name, b in current.breakers.items()},
    }
    return Response(json.dumps(body), media_type="application/json", headers={"Cache-Control": "no-store"})
