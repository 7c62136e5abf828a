"""Advice from observed usage: servers nobody uses, timeouts set too low or far too high, tools
that are slow or failing. Read from the usage report of a period (shared/usage/report.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.settings import ServerSettings

_SLOW_TOOL_MS = 5000


def advice(report: Mapping[str, Any], servers: Mapping[str, ServerSettings]) -> list[dict[str, str]]:
    items: list[dict[str, str]] = []

    def note(server: str, kind: str, text: str) -> None:
        items.append({"server": server, "kind": kind, "advice": text})

    used = {row["key"]: row for row in report.get("byServer", [])}
    for name, server in sorted(servers.items()):
        row = used.get(name)
        variable = f"MCPHUB_SERVER_{name.upper().replace('-', '_')}__TIMEOUT"
        limit = f"{server.timeout:g} s"
        if row is None or not row["requests"]:
            note(name, "unused", f"nobody called {name} in this period: remove it, or tell its users it is there")
            continue
        timeouts = int(row.get("outcomes", {}).get("timeout", 0))
        p99 = float(row.get("p99Ms") or 0.0)
        if timeouts and timeouts / row["requests"] >= 0.01:
            note(
                name,
                "timeouts",
                f"{timeouts} of {row['requests']} calls timed out after {limit}: "
                f"raise {variable} if the upstream is just slow, or look at the upstream",
            )
        elif p99 >= 0.8 * server.timeout * 1000:
            note(name, "timeout-tight", f"p99 {_duration(p99)} is close to the {limit} timeout: raise {variable}")
        elif server.timeout >= 30 and p99 and p99 * 20 < server.timeout * 1000:
            note(
                name,
                "timeout-loose",
                f"p99 is {_duration(p99)} but the timeout is {limit}: "
                f"a lower {variable} frees clients sooner when it hangs",
            )
        if row.get("errorRate", 0) >= 0.05:
            note(name, "failing", f"{row['errorRate']:.0%} of calls to {name} failed in this period")
    for tool in report.get("topTools", []):
        if (tool.get("p95Ms") or 0) >= _SLOW_TOOL_MS:
            note(tool["key"].split("/", 1)[0], "slow-tool", f"{tool['key']} takes {tool['p95Ms'] / 1000:.1f} s at p95")
    return items


def _duration(ms: float) -> str:
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"
