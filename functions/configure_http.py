"""`GET /ops/recommend?need=...`: MCP servers for what a team says it needs, with the exact settings
to add them (validated like the hub's own) and the Bicep lines; `GET /ops/advice`: what the last
week's usage says about the servers configured now (Hub.Admin and Hub.Operator)."""

from __future__ import annotations

import asyncio
import time
from functools import cache

import azure.functions as func
from azurefunctions.extensions.http.fastapi import Request, Response

from functions._deps import hub
from functions._operator import OPERATORS, bad_request, json_response, operator
from shared.configure.advice import advice
from shared.configure.recommend import Recommender, bicep_for, settings_for
from shared.usage.report import usage_report

bp = func.Blueprint()


@cache
def recommender() -> Recommender:
    return Recommender()  # once per worker; scikit-learn loads on its first search


@bp.route(route="ops/recommend", methods=[func.HttpMethod.GET], auth_level=func.AuthLevel.ANONYMOUS)
async def recommend(req: Request) -> Response:
    caller = await operator(req, OPERATORS)
    if isinstance(caller, Response):
        return caller
    need = (req.query_params.get("need") or "").strip()
    if not need or len(need) > 2000:
        return bad_request("'need' must say in plain words (up to 2,000 characters) what the team needs")
    try:
        k = int(req.query_params.get("k", "5"))
    except ValueError:
        return bad_request("'k' must be a whole number")
    if not 1 <= k <= 20:
        return bad_request("'k' must be between 1 and 20")
    suggestions = await asyncio.to_thread(recommender().recommend, need, k)  # the first one fits the index
    configured = {str(s.url) for s in hub().servers.values()}
    # Settings for the clear matches only: within half the best score (the rest are listed, not added).
    top = suggestions[0].score if suggestions else 0.0
    chosen = [s for s in suggestions if s.score >= 0.5 * top]
    fresh = [s.entry for s in chosen if s.entry.url not in configured]
    env = settings_for(fresh)
    return json_response(
        {
            "need": need,
            "servers": [
                {
                    "name": s.entry.key,
                    "title": s.entry.title,
                    "registryName": s.entry.registry_name,
                    "url": s.entry.url,
                    "auth": s.entry.auth,
                    "score": s.score,
                    "because": s.reasons,
                    "alreadyConfigured": s.entry.url in configured,
                    "inSettings": s in chosen,
                }
                for s in suggestions
            ],
            "settings": env,
            "bicep": bicep_for(env),
            "placeholders": sorted(name for name, value in env.items() if "REPLACE-ME" in value),
        }
    )


@bp.route(route="ops/advice", methods=[func.HttpMethod.GET], auth_level=func.AuthLevel.ANONYMOUS)
async def usage_advice(req: Request) -> Response:
    caller = await operator(req, OPERATORS)
    if isinstance(caller, Response):
        return caller
    current = hub()
    await current.ops.usage.flush()
    now = time.time()
    report = await usage_report(current.ops.usage_store, now - 7 * 86400, now)
    return json_response(
        {"period": {"from": report["from"], "to": report["to"]}, "advice": advice(report, current.servers)}
    )
