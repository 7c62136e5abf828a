"""`GET /ops/recommend?need=...`: MCP servers for what a team says it needs, with the exact settings
to add them (validated like the hub's own) and the Bicep lines; `GET /ops/advice`: what the last
week's usage says about the servers configured now (Hub.Admin and Hub.Operator)."""

from __future__ import annotations

import asyncio
import time

import azure.functions as func
from azurefunctions.extensions.http.fastapi import Request, Response

from functions._deps import hub
from functions._operator import OPERATORS, bad_request, model_response, operator, operator_request, scope_of
from functions._outages import answers_outages
from shared.configure.advice import advice
from shared.configure.recommend import default_recommender, recommendation
from shared.operator_api import QueryRefused, models, parse_query
from shared.usage.report import usage_report

bp = func.Blueprint()


@bp.route(route="ops/recommend", methods=[func.HttpMethod.GET], auth_level=func.AuthLevel.ANONYMOUS)
@answers_outages
async def recommend(req: Request) -> Response:
    caller = await operator(req, OPERATORS)
    if isinstance(caller, Response):
        return caller
    try:
        asked = parse_query(models.RecommendParams, dict(req.query_params))
    except QueryRefused as refused:
        return bad_request(str(refused))
    scope = scope_of(caller)
    configured = frozenset(str(s.url) for s in hub().servers.values() if scope.sees_server(s))
    # The first recommendation fits the index: off the event loop.
    found = await asyncio.to_thread(recommendation, default_recommender(), asked.need, asked.k, configured)
    return model_response(models.Recommendation, found)


@bp.route(route="ops/workflow", methods=[func.HttpMethod.GET], auth_level=func.AuthLevel.ANONYMOUS)
@answers_outages
async def workflow(req: Request) -> Response:
    """A plan of tool calls for `goal` from the caller's own tools (search only: a browser has no model)."""
    caller = await operator_request(req, OPERATORS)
    if isinstance(caller, Response):
        return caller
    try:
        asked = parse_query(models.WorkflowParams, dict(req.query_params))
    except QueryRefused as refused:
        return bad_request(str(refused))
    return model_response(models.Plan, await hub().service.plan_workflow(caller, asked.goal))


@bp.route(route="ops/advice", methods=[func.HttpMethod.GET], auth_level=func.AuthLevel.ANONYMOUS)
@answers_outages
async def usage_advice(req: Request) -> Response:
    caller = await operator(req, OPERATORS)
    if isinstance(caller, Response):
        return caller
    current = hub()
    scope = scope_of(caller)
    await current.ops.usage.flush()
    now = time.time()
    report = await usage_report(current.ops.usage_store, now - 7 * 86400, now, tenant=scope.tenant)
    servers = {name: server for name, server in current.servers.items() if scope.sees_server(server)}
    return model_response(
        models.Advice,
        {"period": {"from": report["from"], "to": report["to"]}, "advice": advice(report, servers)},
    )
