"""Timer: set each region's Flex Consumption always-ready and maximum instances from today's
forecast, within the guardrails (shared/forecast/scaling.py). Only the instance holding the
capacity lease acts; the schedule is the app setting MCPHUB_SCALING_SCHEDULE (NCRONTAB; default
every 15 minutes, `0 */15 * * * *`)."""

from __future__ import annotations

import logging
import os
import time

import azure.functions as func

from functions._deps import hub

bp = func.Blueprint()
log = logging.getLogger("mcphub.capacity")
LEASE = "capacity-controller"

SCHEDULE = os.environ.get("MCPHUB_SCALING_SCHEDULE", "0 */15 * * * *")


@bp.timer_trigger(schedule=SCHEDULE, arg_name="timer", run_on_startup=False)
async def plan_capacity(timer: func.TimerRequest) -> None:
    current = hub()
    scaling = current.scaling
    if scaling is None:
        return
    if not await current.holds(scaling.lease, LEASE, ttl=600.0, now=time.time()):
        return
    await current.ops.usage.flush()
    forecasts: dict[str, list[float] | None] = {}
    recent: dict[str, float] = {}
    for region in scaling.controller.regions:
        answer = await current.ops.forecasts.next_day(region)
        forecasts[region] = [p["requests"] for p in answer["points"]] if answer.get("ready") else None
        recent[region] = float(answer.get("recentPeakRequests") or 0.0)
    drained: set[str] = set()
    if current.routing is not None:
        drained = {r for r, s in (await current.routing.policy.states()).items() if s.get("drained")}
    decisions = await scaling.controller.tick(forecasts, drained, recent)
    waiting = sorted(r for r, f in forecasts.items() if f is None)
    log.info("capacity: %d decision(s); no forecast yet for %s", len(decisions), ", ".join(waiting) or "none")
