"""Timer: retrain the learned risk model from the recorded health samples of the last weeks, and use
it only if it beats the current one on a held-back part (shared/health/retraining.py). Only the
instance holding the retraining lease runs it; the schedule is the app setting
MCPHUB_RISK_RETRAIN_SCHEDULE (NCRONTAB; default daily at 02:30 UTC, `0 30 2 * * *`)."""

from __future__ import annotations

import logging
import os
import time

import azure.functions as func

from functions._deps import hub

bp = func.Blueprint()
log = logging.getLogger("mcphub.routing")
LEASE = "risk-retrainer"

SCHEDULE = os.environ.get("MCPHUB_RISK_RETRAIN_SCHEDULE", "0 30 2 * * *")


@bp.timer_trigger(schedule=SCHEDULE, arg_name="timer", run_on_startup=False)
async def retrain_risk_model(timer: func.TimerRequest) -> None:
    current = hub()
    routing = current.routing
    if routing is None or routing.retrainer is None:
        return
    if not await current.holds(routing.lease, LEASE, ttl=1800.0, now=time.time()):
        return
    await current.samples.flush()
    decision = await routing.retrainer.run()
    log.info("risk model retraining: %s (%s)", "accepted" if decision["accepted"] else "kept", decision["reason"])
