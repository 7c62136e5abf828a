"""What one upstream call was, as the audit trail, usage meter and telemetry receive it.

The lowest layer that uses it: shared/hub/calls.py makes these records, shared/audit, shared/usage
and shared/telemetry.py consume them without importing the hub.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class CallRecord:
    at: float  # wall-clock start
    user: str
    tenant: str
    server: str
    method: str
    tool: str  # tool or prompt name, resource URI; "" for other methods
    outcome: str  # ok | tool_error | error | timeout | unavailable | throttled | rate_limited | cancelled
    seconds: float
    region: str
    session: str = ""
    arguments: Any = None  # only with the server's AUDIT_CAPTURE on, redacted
    result: str | None = None


class CallSink(Protocol):
    def __call__(self, record: CallRecord) -> None: ...


class Span(Protocol):
    def active(self) -> AbstractContextManager[None]:
        """Current while the upstream request is sent (so its trace context goes with it)."""
        ...

    def finish(self, record: CallRecord) -> None: ...
