"""`make saturate`: how many calls per second one instance serves before its p95 crosses 300 ms.

Steps the number of concurrent clients (each its own session, calling `echo` back to back, no think
time) against one target at a time, in the same run, on this machine over loopback: the demo
upstream alone (the ceiling of everything in front of it), one hub instance (the local Functions
host on Azurite, sign-in on: a token per client from the local OIDC authority, aggregated `/mcp`)
and mcp-proxy from PyPI in front of the same upstream. A target's steps stop at the first whose
call p95 is over `--p95` ms. Prints per step: calls/s, p50/p95/p99, errors, the target's CPU
(cores busy, ms per call), the upstream's and the load generator's; then per target the most
calls/s of a step under the line (the "calls/s per instance" of the README's capacity model) and
the calls/s one core would serve at the target's CPU per call.

Everything shares the machine's two cores: the upstream (one Python process: it tops out near one
core) and the load generator (a raw aiohttp client, the load test's) take their part, so a
target's calls/s is what it reaches beside them, and the upstream's own ceiling bounds it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from infra.bench import pct
from infra.loadtest import Tally, Target, User, cpu_and_memory, mint_tokens, own_cpu, start_mcp_proxy
from infra.oidc import LocalAuthority
from infra.processes import ROOT, Processes

ERRORS = (aiohttp.ClientError, TimeoutError, RuntimeError, KeyError, ValueError)


@dataclass
class Step:
    clients: int
    calls: int
    seconds: float
    latencies: list[float]
    errors: int
    cpu_s: float
    upstream_cpu_s: float
    loadgen_cpu_s: float

    @property
    def calls_per_s(self) -> float:
        return self.calls / self.seconds

    def p(self, q: float) -> float:
        return pct(self.latencies, q) if len(self.latencies) >= 2 else float("inf")

    def row(self) -> dict[str, Any]:
        return {
            "clients": self.clients,
            "calls": self.calls,
            "calls_per_s": self.calls_per_s,
            "p50_ms": self.p(50),
            "p95_ms": self.p(95),
            "p99_ms": self.p(99),
            "errors": self.errors,
            "cores_busy": self.cpu_s / self.seconds,
            "cpu_ms_per_call": self.cpu_s * 1000 / max(1, self.calls),
            # what one core would serve at this CPU per call: the ceiling when nothing else shares it
            "calls_per_core_s": self.calls * 1.0 / self.cpu_s if self.cpu_s > 0 else 0.0,
            "upstream_cores_busy": self.upstream_cpu_s / self.seconds,
            "loadgen_cores_busy": self.loadgen_cpu_s / self.seconds,
        }


async def step(target: Target, clients: int, seconds: float) -> Step:
    """`clients` sessions open, then all call back to back for `seconds`; only those calls count."""
    tally = Tally()
    connector = aiohttp.TCPConnector(limit=clients + 16)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as http:
        users = [User(http, target, n, tally, random.Random(n)) for n in range(clients)]
        opened = await asyncio.gather(*(u.connect() for u in users), return_exceptions=True)
        failed = sum(isinstance(result, BaseException) for result in opened)
        tally.latency.clear()
        cpu0, up0 = cpu_and_memory(target.servers)[0], cpu_and_memory([target.upstream])[0]
        load0, started = own_cpu(), time.monotonic()
        until = started + seconds

        async def calls(user: User) -> int:
            errors = 0
            while time.monotonic() < until:
                try:
                    await user.post("call", "tools/call", {"name": target.tool, "arguments": {"text": "load"}})
                except ERRORS:
                    errors += 1
            return errors

        errors = sum(await asyncio.gather(*(calls(u) for u in users)))
        elapsed = time.monotonic() - started
        cpu, load = cpu_and_memory(target.servers)[0] - cpu0, own_cpu() - load0
        upstream = cpu_and_memory([target.upstream])[0] - up0
        for user in users:
            if "Mcp-Session-Id" in user.headers:
                try:
                    async with http.delete(target.url, headers=user.headers) as response:
                        await response.read()
                except ERRORS:
                    errors += 1
    latencies = tally.latency.get("call", [])
    return Step(clients, len(latencies), elapsed, latencies, errors + failed, cpu, upstream, load)


def ramp(target: Target, levels: list[int], seconds: float, line_ms: float) -> list[Step]:
    steps: list[Step] = []
    for clients in levels:
        result = asyncio.run(step(target, clients, seconds))
        steps.append(result)
        sys.stdout.write(
            f"{target.name:<10} c={clients:<4} {result.calls_per_s:>7.0f} calls/s  p95 {result.p(95):>7.1f} ms  "
            f"errors {result.errors}\n"
        )
        sys.stdout.flush()
        if result.p(95) > line_ms:
            break
    return steps


def best(steps: list[dict[str, Any]], line_ms: float) -> dict[str, Any] | None:
    """The step with the most calls/s whose p95 stayed under the line (and had no errors)."""
    under = [s for s in steps if s["p95_ms"] <= line_ms and s["errors"] == 0]
    return max(under, key=lambda s: s["calls_per_s"]) if under else None


def report(results: dict[str, list[dict[str, Any]]], line_ms: float) -> str:
    lines = [
        f"{'target':<10} {'clients':>7} {'calls/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>6} "
        f"{'cores':>6} {'CPU ms/call':>11} {'upstream cores':>14} {'loadgen cores':>13}"
    ]
    for name, steps in results.items():
        lines.extend(
            f"{name:<10} {s['clients']:>7} {s['calls_per_s']:>8.0f} {s['p50_ms']:>7.1f} {s['p95_ms']:>7.1f} "
            f"{s['p99_ms']:>7.1f} {s['errors']:>6} {s['cores_busy']:>6.2f} {s['cpu_ms_per_call']:>11.2f} "
            f"{s['upstream_cores_busy']:>14.2f} {s['loadgen_cores_busy']:>13.2f}"
            for s in steps
        )
    lines.append("")
    for name, steps in results.items():
        top = best(steps, line_ms)
        if top is None:
            lines.append(f"{name}: no step stayed under p95 {line_ms:g} ms without errors")
        else:
            lines.append(
                f"{name}: at most {top['calls_per_s']:.0f} calls/s per instance under p95 {line_ms:g} ms "
                f"(c={top['clients']}, p95 {top['p95_ms']:.1f} ms, {top['cores_busy']:.2f} cores, the upstream "
                f"{top['upstream_cores_busy']:.2f}); {top['calls_per_core_s']:.0f} calls/s per core of its own CPU"
            )
    if "hub" in results and "mcp-proxy" in results:
        hub, peer = best(results["hub"], line_ms), best(results["mcp-proxy"], line_ms)
        if hub and peer:
            lines.append(f"hub / mcp-proxy: calls/s under the line {hub['calls_per_s'] / peer['calls_per_s']:.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, list[dict[str, Any]]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="8,16,32,64,96,128,192,256,384,512", help="concurrent clients per step")
    parser.add_argument("--step", type=float, default=8.0, help="seconds of calls per step")
    parser.add_argument("--p95", type=float, default=300.0, help="the line: a target's steps stop above it")
    parser.add_argument("--targets", default="direct,hub,mcp-proxy")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    levels = [int(n) for n in args.levels.split(",")]
    wanted = args.targets.split(",")
    processes = Processes(ROOT / ".local" / "logs" / "saturate")
    results: dict[str, list[dict[str, Any]]] = {}
    try:
        azurite = processes.azurite()
        upstream = processes.demo("notes")
        targets = [Target("direct", f"{upstream.url}/mcp", "echo", "", upstream, [upstream])]
        if "hub" in wanted:
            authority = LocalAuthority.start(processes, processes.log_dir)
            hub = processes.hub_over("hub-saturate", azurite, {"notes": upstream}, authority.hub_settings("tenant-a"))
            tokens = asyncio.run(mint_tokens(authority, max(levels)))
            targets.append(Target("hub", f"{hub.url}/mcp", "notes__echo", "", upstream, [hub], tokens=tokens))
        if "mcp-proxy" in wanted:
            peer = start_mcp_proxy(processes, upstream)
            targets.append(Target("mcp-proxy", f"{peer.url}/mcp", "echo", "", upstream, [peer]))
        for target in targets:
            results[target.name] = [s.row() for s in ramp(target, levels, args.step, args.p95)]
    finally:
        processes.stop_all()
    sys.stdout.write(report(results, args.p95) + "\n")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
