"""`GET /routing`: what the routing controller sees and did, for Hub.Admin and Hub.Operator."""

from __future__ import annotations

import azure.functions as func
from azurefunctions.extensions.http.fastapi import Request, Response

from functions._deps import hub
from functions._operator import OPERATORS, model_response, operator
from functions._outages import answers_outages
from shared.operator_api.models import Routing

bp = func.Blueprint()


@bp.route(route="routing", methods=[func.HttpMethod.GET], auth_level=func.AuthLevel.ANONYMOUS)
@answers_outages
async def routing_state(req: Request) -> Response:
    caller = await operator(req, OPERATORS)
    if isinstance(caller, Response):
        return caller
    routing = hub().routing
    return model_response(
        Routing,
        {
            "controller": routing.settings.kind if routing else "none",
            "regions": await routing.policy.states() if routing else {},
            "decisions": await routing.policy.recent() if routing else [],
            "retraining": await routing.retrainer.recent() if routing and routing.retrainer else [],
        },
    )
