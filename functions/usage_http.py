"""`GET /ops/usage?from=&to=`: requests, errors and latency by server, tool, user and region,
read from the usage aggregates (Hub.Admin and Hub.Operator; of their own tenant only on a
multi-tenant hub, unless they hold the hub-wide role)."""

from __future__ import annotations

import time

import azure.functions as func
from azurefunctions.extensions.http.fastapi import Request, Response

from functions._deps import hub
from functions._operator import OPERATORS, bad_request, model_response, operator, scope_of
from functions._outages import answers_outages
from shared.audit.api import AuditQuery, BadQuery
from shared.operator_api.models import Usage
from shared.usage.report import usage_report

bp = func.Blueprint()
_MAX_DAYS = 31


@bp.route(route="ops/usage", methods=[func.HttpMethod.GET], auth_level=func.AuthLevel.ANONYMOUS)
@answers_outages
async def usage(req: Request) -> Response:
    caller = await operator(req, OPERATORS)
    if isinstance(caller, Response):
        return caller
    try:
        query = AuditQuery.parse(dict(req.query_params), now=time.time())
    except BadQuery as error:
        return bad_request(str(error))
    if query.filters:
        return bad_request("usage takes only 'from' and 'to'")
    if query.end - query.start > _MAX_DAYS * 86400:
        return bad_request(f"ask for at most {_MAX_DAYS} days at a time")
    current = hub()
    tenant = scope_of(caller).tenant  # an operator of one tenant: that tenant's usage only, exactly
    await current.ops.usage.flush()  # this instance's latest counts are part of the answer
    report = await usage_report(current.ops.usage_store, query.start, query.end, tenant=tenant)
    report["liveSessions"] = await current.store.count_live(
        now=time.time(), ttl_seconds=current.settings.session_ttl_seconds, tenant=tenant
    )
    return model_response(Usage, report)
