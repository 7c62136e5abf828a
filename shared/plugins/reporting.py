"""Where plugin events go: every refusal and failure into the audit trail, everything into usage."""

from __future__ import annotations

from collections.abc import Callable

from shared.audit.events import audit
from shared.call_record import PluginEvent

PluginSink = Callable[[PluginEvent], None]


def reporter(usage: PluginSink) -> PluginSink:
    """`plugin.refused`, `plugin.would_refuse`, `plugin.timeout` and `plugin.failed` audit events
    (a modification is only counted), and a count per plugin in `/ops/usage`."""

    def report(event: PluginEvent) -> None:
        if event.outcome != "modified":
            audit(
                f"plugin.{event.outcome}",
                at=event.at,
                user=event.user,
                tenant=event.tenant,
                server=event.server,
                tool=event.name,
                plugin=event.plugin,
                hook=event.point,
                reason=event.message[:500],
            )
        usage(event)

    return report
