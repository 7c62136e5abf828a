"""What the operator page reads besides audit, usage and routing: who is signed in
(`/ops/whoami`), the servers with their health (`/ops/servers`), and the running
configuration with secrets masked (`/ops/config`)."""

from __future__ import annotations

import os
import time

import azure.functions as func
from azurefunctions.extensions.http.fastapi import Request, Response

from functions._deps import hub
from functions._operator import OPERATORS, model_response, operator, operator_request, scope_of
from functions._outages import answers_outages
from shared.backup.transfer import account_of
from shared.hub.running_config import running_config, safe_url
from shared.identity.resource import scope_value
from shared.operator_api import models
from shared.operator_api.document import Security, document
from shared.settings import RoutingSettings
from shared.usage.report import usage_report

bp = func.Blueprint()


@bp.route(route="ops/openapi.json", methods=[func.HttpMethod.GET], auth_level=func.AuthLevel.ANONYMOUS)
@answers_outages
async def openapi(req: Request) -> Response:
    """The OpenAPI 3.1 description of the operator API, for operators (the routes it lists are hidden
    from everyone else)."""
    request = await operator_request(req, OPERATORS)
    if isinstance(request, Response):
        return request
    current = hub()
    origin = request.origin
    if current.identity.oauth is not None:
        security = Security(f"{origin}/oauth/authorize", f"{origin}/oauth/token", scope_value(current.auth))
    else:
        authority = (current.identity.authorization_servers or ["https://login.microsoftonline.com/common/v2.0"])[0]
        base = authority.removesuffix("/").removesuffix("/v2.0")
        security = Security(f"{base}/oauth2/v2.0/authorize", f"{base}/oauth2/v2.0/token", scope_value(current.auth))
    return model_response(models.OpenApiDocument, document(origin, security, facade=current.identity.oauth is not None))


@bp.route(route="ops/whoami", methods=[func.HttpMethod.GET], auth_level=func.AuthLevel.ANONYMOUS)
@answers_outages
async def whoami(req: Request) -> Response:
    caller = await operator(req, OPERATORS)
    if isinstance(caller, Response):
        return caller
    current = hub()
    return model_response(
        models.Whoami,
        {
            "user": caller.key,
            "name": caller.name,
            "roles": sorted(caller.roles),
            "scope": scope_of(caller).wire(),
            "auth": current.auth.mode,
            "region": current.settings.region,
            "instance": current.settings.instance_name,
            "auditDropped": current.ops.audit.dropped,
        },
    )


@bp.route(route="ops/servers", methods=[func.HttpMethod.GET], auth_level=func.AuthLevel.ANONYMOUS)
@answers_outages
async def servers(req: Request) -> Response:
    caller = await operator(req, OPERATORS)
    if isinstance(caller, Response):
        return caller
    current = hub()
    scope = scope_of(caller)
    now = time.time()
    await current.ops.usage.flush()
    recent = await usage_report(current.ops.usage_store, now - 3600, now, tenant=scope.tenant)
    by_server = {row["key"]: row for row in recent["byServer"]}
    rows = []
    for name, server in sorted(current.servers.items()):
        if not scope.sees_server(server):
            continue
        last_good = current.catalog.last_good(name)
        usage = by_server.get(name, {})
        rows.append(
            {
                "name": name,
                "url": safe_url(str(server.url)),
                "auth": server.auth,
                "enabled": server.enabled,
                "breaker": current.breakers[name].state,
                "lastGoodListAgeSeconds": round(last_good[0], 1) if last_good else None,
                "listStale": last_good[1] if last_good else None,
                "requestsLastHour": usage.get("requests", 0),
                "errorRateLastHour": usage.get("errorRate", 0.0),
                "p95MsLastHour": usage.get("p95Ms"),
            }
        )
    return model_response(models.Servers, {"instance": current.settings.instance_name, "servers": rows})


@bp.route(route="ops/config", methods=[func.HttpMethod.GET], auth_level=func.AuthLevel.ANONYMOUS)
@answers_outages
async def config(req: Request) -> Response:
    caller = await operator(req, OPERATORS)
    if isinstance(caller, Response):
        return caller
    current = hub()
    scope = scope_of(caller)
    body = running_config(
        {
            "hub": current.settings,
            "auth": current.auth,
            "routing": current.routing.settings if current.routing else RoutingSettings(),
            "operations": current.ops.settings,
        },
        current.servers,
        current.ops.limiter.rules if current.ops.limiter else [],
        current.plugins,
        current.tenants,
        scope,
    )
    storage = os.environ.get("AzureWebJobsStorage", "")  # noqa: SIM112 - the Functions host's own name
    body["storage"] = (
        account_of(storage) if "AccountKey=" in storage or storage.startswith("Use") else "managed identity"
    )
    return model_response(models.RunningConfig, body)
