"""What the operator page reads besides audit, usage and routing: who is signed in
(`/ops/whoami`), the servers with their health (`/ops/servers`), and the running
configuration with secrets masked (`/ops/config`)."""

from __future__ import annotations

import os
import time

import azure.functions as func
from azurefunctions.extensions.http.fastapi import Request, Response

from functions._deps import hub
from functions._operator import OPERATORS, json_response, operator
from shared.backup.transfer import account_of
from shared.hub.running_config import running_config, safe_url
from shared.settings import RoutingSettings
from shared.usage.report import usage_report

bp = func.Blueprint()


@bp.route(route="ops/whoami", methods=[func.HttpMethod.GET], auth_level=func.AuthLevel.ANONYMOUS)
async def whoami(req: Request) -> Response:
    caller = await operator(req, OPERATORS)
    if isinstance(caller, Response):
        return caller
    current = hub()
    return json_response(
        {
            "user": caller.key,
            "name": caller.name,
            "roles": sorted(caller.roles),
            "auth": current.auth.mode,
            "region": current.settings.region,
            "instance": current.settings.instance_name,
            "auditDropped": current.ops.audit.dropped,
        }
    )


@bp.route(route="ops/servers", methods=[func.HttpMethod.GET], auth_level=func.AuthLevel.ANONYMOUS)
async def servers(req: Request) -> Response:
    caller = await operator(req, OPERATORS)
    if isinstance(caller, Response):
        return caller
    current = hub()
    now = time.time()
    await current.ops.usage.flush()
    recent = await usage_report(current.ops.usage_store, now - 3600, now)
    by_server = {row["key"]: row for row in recent["byServer"]}
    rows = []
    for name, server in sorted(current.servers.items()):
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
    return json_response({"instance": current.settings.instance_name, "servers": rows})


@bp.route(route="ops/config", methods=[func.HttpMethod.GET], auth_level=func.AuthLevel.ANONYMOUS)
async def config(req: Request) -> Response:
    caller = await operator(req, OPERATORS)
    if isinstance(caller, Response):
        return caller
    current = hub()
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
    )
    storage = os.environ.get("AzureWebJobsStorage", "")  # noqa: SIM112 - the Functions host's own name
    body["storage"] = (
        account_of(storage) if "AccountKey=" in storage or storage.startswith("Use") else "managed identity"
    )
    return json_response(body)
