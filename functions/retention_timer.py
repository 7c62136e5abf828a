"""Timer (daily): delete audit hours, usage aggregates and health samples past their retention, and
spent rate-limit windows."""

from __future__ import annotations

import logging
import time

import azure.functions as func

from functions._deps import hub
from shared.audit.events import audit

bp = func.Blueprint()
log = logging.getLogger("mcphub.retention")


@bp.timer_trigger(schedule="0 30 3 * * *", arg_name="timer", run_on_startup=False)
async def apply_retention(timer: func.TimerRequest) -> None:
    ops = hub().ops
    now = time.time()
    audit_rows = await ops.audit.delete_older_than(int((now - ops.settings.audit_retention_days * 86400) // 3600))
    windows = await ops.budgets.purge(now)
    grants = await hub().identity.grants.purge(now)
    usage_rows = await ops.usage_store.delete_before(int(now - ops.settings.usage_retention_days * 86400))
    samples = await hub().sample_store.delete_before(now - hub().settings.health_retention_days * 86400)
    audit(
        "retention.applied",
        audit_rows=audit_rows,
        usage_rows=usage_rows,
        limit_windows=windows,
        grants=grants,
        health_samples=samples,
    )
    log.info(
        "retention: deleted %d audit record(s), %d usage aggregate(s), %d rate-limit window(s), %d health "
        "sample(s) and %d expired grant(s) (codes, refresh tokens, unused client registrations...)",
        audit_rows,
        usage_rows,
        windows,
        samples,
        grants,
    )
