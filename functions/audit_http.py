"""The audit trail for Hub.Admin: `GET /ops/audit` (filters, paging), `/ops/audit/export`
(CSV or JSON Lines) and `/ops/audit/verify` (the hash chains of a time range)."""

from __future__ import annotations

import dataclasses
import time

import azure.functions as func
from azurefunctions.extensions.http.fastapi import Request, Response, StreamingResponse

from functions._deps import hub
from functions._operator import ADMIN, Scope, bad_request, forbidden, model_response, operator, scope_of
from functions._outages import answers_outages
from shared.audit import api
from shared.audit.events import audit
from shared.operator_api import models
from shared.principal import Principal

bp = func.Blueprint()


async def _admin_query(req: Request) -> tuple[Principal, api.AuditQuery, Scope] | Response:
    """The admin, their parsed query (narrowed to their tenant when that is their scope) and their
    scope, or the response refusing one or the other."""
    caller = await operator(req, ADMIN)
    if isinstance(caller, Response):
        return caller
    try:
        query = api.AuditQuery.parse(dict(req.query_params), now=time.time())
    except api.BadQuery as error:
        return bad_request(str(error))
    current = hub()
    asked = query.filters.get("tenant")
    if asked is not None:  # an alias names its tenant here too
        asked = current.tenants.id_of(asked)
    scope = scope_of(caller)
    if scope.tenant is not None:
        if asked not in (None, scope.tenant):
            return forbidden(f"you see the records of tenant {scope.label!r} only; leave 'tenant' out")
        asked = scope.tenant
    if asked is not None:
        query = dataclasses.replace(query, filters={**query.filters, "tenant": asked})
    await current.ops.audit.flush()  # what happened a moment ago is part of the answer
    return caller, query, scope


@bp.route(route="ops/audit", methods=[func.HttpMethod.GET], auth_level=func.AuthLevel.ANONYMOUS)
@answers_outages
async def audit_search(req: Request) -> Response:
    checked = await _admin_query(req)
    if isinstance(checked, Response):
        return checked
    return model_response(models.AuditPage, await api.page(hub().ops.audit, checked[1]))


@bp.route(route="ops/audit/export", methods=[func.HttpMethod.GET], auth_level=func.AuthLevel.ANONYMOUS)
@answers_outages
async def audit_export(req: Request) -> Response:
    checked = await _admin_query(req)
    if isinstance(checked, Response):
        return checked
    caller, query, _ = checked
    form = req.query_params.get("format", "jsonl")
    if form not in ("csv", "jsonl"):
        return bad_request("'format' must be csv or jsonl")
    audit("admin.audit_exported", user=caller.key, format=form, filters=query.filters, start=query.start, end=query.end)
    media = "text/csv; charset=utf-8" if form == "csv" else "application/x-ndjson"
    name = f"mcphub-audit-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.{form}"
    return StreamingResponse(
        api.export(hub().ops.audit, query, form),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


@bp.route(route="ops/audit/verify", methods=[func.HttpMethod.GET], auth_level=func.AuthLevel.ANONYMOUS)
@answers_outages
async def audit_verify(req: Request) -> Response:
    checked = await _admin_query(req)
    if isinstance(checked, Response):
        return checked
    caller, query, scope = checked
    current = hub()
    retained = int((time.time() - current.ops.settings.audit_retention_days * 86400) // 3600) + 1
    result = await current.ops.audit.verify(
        query.first_hour, query.last_hour, retained_from_hour=retained, tenant=scope.tenant
    )
    audit("admin.audit_verified", user=caller.key, intact=result.intact, rows=result.rows)
    return model_response(models.Verification, {**api.verification(result), "tenant": scope.tenant})
