"""`GET /ops/scaling`: what the capacity controller plans for each region and what it changed, with
the inputs of every decision (Hub.Admin and Hub.Operator; on a multi-tenant hub, those who see
every tenant: capacity is the whole hub's)."""

from __future__ import annotations

import azure.functions as func
from azurefunctions.extensions.http.fastapi import Request, Response

from functions._deps import hub
from functions._operator import OPERATORS, hidden, model_response, operator, scope_of
from functions._outages import answers_outages
from shared.operator_api.models import Scaling

bp = func.Blueprint()


@bp.route(route="ops/scaling", methods=[func.HttpMethod.GET], auth_level=func.AuthLevel.ANONYMOUS)
@answers_outages
async def scaling_state(req: Request) -> Response:
    caller = await operator(req, OPERATORS)
    if isinstance(caller, Response):
        return caller
    if not scope_of(caller).hub_wide:
        return hidden()
    scaling = hub().scaling
    if scaling is None:
        return model_response(Scaling, {"mode": "off", "regions": {}, "decisions": []})
    controller = scaling.controller
    return model_response(
        Scaling,
        {
            "mode": scaling.settings.mode,
            "regions": await controller.states(),
            "decisions": await controller.recent(),
        },
    )
