"""Timer: delete sessions idle for longer than MCPHUB_SESSION_TTL_SECONDS."""

from __future__ import annotations

import logging
import time

import azure.functions as func

from functions._deps import hub

bp = func.Blueprint()
log = logging.getLogger("mcphub.sessions")


@bp.timer_trigger(schedule="0 */5 * * * *", arg_name="timer", run_on_startup=False)
async def purge_sessions(timer: func.TimerRequest) -> None:
    current = hub()
    removed = await current.store.purge_expired(now=time.time(), ttl_seconds=current.settings.session_ttl_seconds)
    log.info("purged %d expired session(s)", removed)
