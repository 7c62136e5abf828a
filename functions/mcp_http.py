"""HTTP triggers for MCP: `/mcp` (all servers the caller may use) and `/mcp/{server}` (one server).

Uses the Functions HTTP streaming model (FastAPI Request/StreamingResponse) so SSE streams on the
real host; the local host in infra/ serves the same objects.
"""

from __future__ import annotations

import time

import azure.functions as func
from azurefunctions.extensions.http.fastapi import Request, Response, StreamingResponse

from functions._deps import hub
from shared import telemetry
from shared.errors import HubError
from shared.http import HttpIn, HttpOut, error_reply, public_origin, read_limited

bp = func.Blueprint()

_METHODS = [func.HttpMethod.GET, func.HttpMethod.POST, func.HttpMethod.DELETE]


async def serve(req: Request, route: str) -> Response:
    deps = hub()
    started = time.perf_counter()
    with telemetry.serving(route, req.method, req.headers) as span:
        response = await _serve(req, route)
        status = response.status_code
        seconds = time.perf_counter() - started
        telemetry.served(span, status, seconds, route)
    outcome = "error" if status >= 500 else "throttled" if status == 429 else "ok"
    deps.health.record("hub", seconds, outcome)
    deps.samples.maybe_flush()
    return response


async def _serve(req: Request, route: str) -> Response:
    service = hub().service
    try:
        body = await read_limited(req.stream(), hub().settings.max_body_bytes) if req.method == "POST" else b""
    except HubError as error:
        return render(error_reply(error))
    headers = dict(req.headers)
    origin = public_origin(hub().settings.public_url, f"{req.url.scheme}://{req.url.netloc}")
    query = dict(req.query_params)
    incoming = HttpIn(method=req.method, headers=headers, body=body, route=route, origin=origin, query=query)
    return render(await service.handle(incoming))


def render(out: HttpOut) -> Response:
    if out.stream is not None:
        return StreamingResponse(out.stream, status_code=out.status, headers=out.headers)
    return Response(content=out.body, status_code=out.status, headers=out.headers)


@bp.route(route="mcp", methods=_METHODS, auth_level=func.AuthLevel.ANONYMOUS)
async def mcp(req: Request) -> Response:
    return await serve(req, "")


@bp.route(route="mcp/{server}", methods=_METHODS, auth_level=func.AuthLevel.ANONYMOUS)
async def mcp_server(req: Request) -> Response:
    return await serve(req, req.path_params["server"])
