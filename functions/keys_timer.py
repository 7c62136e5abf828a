"""Timer: rotate the OAuth facade's token signing key when it is older than MCPHUB_AUTH__SIGNING_KEY_DAYS.

The old key stays in the JWKS for two days, so tokens it signed keep verifying until they expire.
"""

from __future__ import annotations

import logging

import azure.functions as func

from functions._deps import hub
from shared.audit.events import audit

bp = func.Blueprint()
log = logging.getLogger("mcphub.keys")


@bp.timer_trigger(schedule="0 17 3 * * *", arg_name="timer", run_on_startup=False)
async def rotate_signing_keys(timer: func.TimerRequest) -> None:
    current = hub()
    oauth = current.identity.oauth
    if oauth is None:
        return
    kid = await oauth.tokens.keys.rotate_if_older(current.auth.signing_key_days * 24 * 3600)
    if kid is not None:
        audit("keys.rotated", kid=kid)
