"""Security events: sign-ins, refused tokens, registrations, credential changes.

One structured log record per event on the `mcphub.audit` logger (who, what, outcome; never a
token or secret). The operations issue stores them durably; until then they reach the Functions
log / Application Insights like every other record.
"""

from __future__ import annotations

import json
import logging

_log = logging.getLogger("mcphub.audit")


def audit(event: str, **fields: object) -> None:
    _log.info(
        "%s %s", event, json.dumps(fields, sort_keys=True, default=str), extra={"audit": {"event": event, **fields}}
    )
