"""`GET /ops/forecast?region=`: today's request rate in 5-minute steps for a region, learned from
its usage aggregates, with Flex Consumption always-ready and maximum instances and a monthly
cost estimate (Hub.Admin and Hub.Operator; on a multi-tenant hub, those who see every tenant)."""

from __future__ import annotations

import azure.functions as func
from azurefunctions.extensions.http.fastapi import Request, Response

from functions._deps import hub
from functions._operator import OPERATORS, bad_request, hidden, model_response, operator, scope_of
from functions._outages import answers_outages
from shared.operator_api import QueryRefused, parse_query
from shared.operator_api.models import Forecast, ForecastParams

bp = func.Blueprint()


@bp.route(route="ops/forecast", methods=[func.HttpMethod.GET], auth_level=func.AuthLevel.ANONYMOUS)
@answers_outages
async def forecast(req: Request) -> Response:
    caller = await operator(req, OPERATORS)
    if isinstance(caller, Response):
        return caller
    if not scope_of(caller).hub_wide:  # the hub's whole load is no one tenant's to see
        return hidden()
    current = hub()
    try:
        asked = parse_query(ForecastParams, dict(req.query_params))
    except QueryRefused as refused:
        return bad_request(str(refused))
    region = asked.region or current.settings.region
    await current.ops.usage.flush()
    return model_response(Forecast, await current.ops.forecasts.next_day(region))
