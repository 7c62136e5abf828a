"""What feeds the audit trail: security events logged through `audit()` and every upstream call."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from shared.audit.trail import AuditTrail, KeySource
from shared.call_record import CallRecord
from shared.sealing import Sealer


class TrailHandler(logging.Handler):
    """Copies each `mcphub.audit` log record (shared/audit/events.py) into the trail."""

    def __init__(self, trail: AuditTrail) -> None:
        super().__init__(logging.INFO)
        self._trail = trail

    def emit(self, record: logging.LogRecord) -> None:
        fields: Any = getattr(record, "audit", None)
        if not isinstance(fields, dict):
            return
        copied: dict[str, Any] = {str(k): v for k, v in fields.items()}  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType] - JSON of unknown shape: isinstance narrows the container, not its items
        event = str(copied.pop("event", "event"))
        if "at" in copied:  # the record's own time is `at`; an event's field of that name is kept apart
            copied["field_at"] = copied.pop("at")
        self._trail.record(event, at=record.created, **copied)


class CallsToTrail:
    """A call sink: one `tool.call` (or `<method>` for other upstream requests) record per call."""

    def __init__(self, trail: AuditTrail) -> None:
        self._trail = trail

    def __call__(self, record: CallRecord) -> None:
        extra: dict[str, Any] = {"method": record.method}
        if record.session:
            # A session ID is half a credential: keep only enough of its hash to correlate records.
            extra["session"] = hashlib.sha256(record.session.encode()).hexdigest()[:12]
        if record.arguments is not None:
            extra["arguments"] = record.arguments
        if record.result is not None:
            extra["result"] = record.result
        self._trail.record(
            "tool.call" if record.method == "tools/call" else record.method.replace("/", "."),
            at=record.at,
            user=record.user,
            tenant=record.tenant,
            server=record.server,
            tool=record.tool,
            outcome=record.outcome,
            latency_ms=record.seconds * 1000,
            **extra,
        )


def vault_keys(sealer: Sealer) -> KeySource:
    """The trail's MAC keys: derived from the vault key ring, so rotation keeps old rows verifiable."""
    return lambda kid: sealer.derived_key("audit-trail", kid)
