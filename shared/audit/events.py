"""Security events: sign-ins, refused tokens, registrations, credential changes.

One structured log record per event on the `mcphub.audit` logger (who, what, outcome; never a
token or secret). They reach the Functions log / Application Insights like every other record, and
the audit trail (shared/audit/) stores them durably through its logging handler.
"""

from __future__ import annotations

import json
import logging

_log = logging.getLogger("mcphub.audit")
# Whatever level the host sets for the root logger, audit events reach the trail's handler.
_log.setLevel(logging.INFO)


def audit(event: str, **fields: object) -> None:
    _log.info(
        "%s %s", event, json.dumps(fields, sort_keys=True, default=str), extra={"audit": {"event": event, **fields}}
    )
