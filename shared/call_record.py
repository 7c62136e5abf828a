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
    outcome: str  # ok | tool_error | error | timeout | unavailable | throttled | rate_limited | refused | cancelled
    seconds: float
    region: str
    session: str = ""
    arguments: Any = None  # only with the server's AUDIT_CAPTURE on, redacted
    result: str | None = None
    plugin: str = ""  # outcome refused: the plugin (MCPHUB_PLUGIN_<NAME>) that refused


@dataclass(frozen=True, slots=True)
class PluginEvent:
    """What a plugin did that is worth counting: refused (or would have, permissive), failed, modified."""

    at: float
    plugin: str
    point: str  # the hook, e.g. before_tool_call
    outcome: str  # refused | would_refuse | timeout | failed | modified
    user: str
    tenant: str
    server: str
    name: str  # tool or prompt name, resource URI; "" for lists
    message: str  # the refusal shown to the client, or what went wrong


class CallSink(Protocol):
    def __call__(self, record: CallRecord) -> None: ...


class Span(Protocol):
    def active(self) -> AbstractContextManager[None]:
        """Current while the upstream request is sent (so its trace context goes with it)."""
        ...

    def finish(self, record: CallRecord) -> None: ...
