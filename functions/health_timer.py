"""Timer: evaluate every region's health from the recorded samples and act on Front Door (or the
local proxy). Only the instance holding the evaluator lease acts; the schedule is the app setting
MCPHUB_HEALTH_SCHEDULE (NCRONTAB; default every minute, `0 */1 * * * *`)."""

from __future__ import annotations

import asyncio
import logging
import os
import time

import azure.functions as func

from functions._deps import hub
from shared.health.risk import windows

bp = func.Blueprint()
log = logging.getLogger("mcphub.routing")
LEASE = "health-evaluator"


# Read when the app is indexed (app settings are environment variables by then), with a default.
SCHEDULE = os.environ.get("MCPHUB_HEALTH_SCHEDULE", "0 */1 * * * *")


@bp.timer_trigger(schedule=SCHEDULE, arg_name="timer", run_on_startup=False)
async def evaluate_health(timer: func.TimerRequest) -> None:
    current = hub()
    routing = current.routing
    if routing is None:
        return
    now = time.time()
    if not await current.holds(routing.lease, LEASE, ttl=90.0, now=now):
        return
    await current.samples.flush()  # this instance's own latest observations count too
    samples = await current.sample_store.window(now - routing.settings.history_seconds, now + 1)
    history = windows(samples, routing.settings.window_seconds)
    # A drained region gets no traffic, so no samples: it is assessed on nothing (no risk seen) and
    # comes back after the restore rules are met; Front Door's own probe still guards it.
    regions = set(history) | set(await routing.policy.states())
    await routing.model.prepare()  # starts training the learned model (the threshold rule answers until then)
    assessments = await asyncio.to_thread(
        lambda: {region: routing.model.assess(region, history.get(region, [])) for region in sorted(regions)}
    )
    decisions = await routing.policy.apply(assessments)
    log.info("evaluated %d region(s): %d decision(s)", len(assessments), len(decisions))
