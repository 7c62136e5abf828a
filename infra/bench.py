"""`make bench`: what the hub costs on an echo tool, against the same upstream called directly.

Every target is measured in the same run with the same raw HTTP client (aiohttp, handshake era,
one session per worker): the upstream directly; the pass-through floor in front of it (`floor`:
`infra/floor.py`, the least a Python gateway on this stack costs, forwarding bytes unparsed); the
hub's transparent `/mcp/notes`, the aggregated `/mcp` (`notes__echo`); `/mcp` of a hub with
sign-in on (`hub signed`: a real token from the local OIDC authority, checked on every call); and
`/mcp` of a hub with the three built-in plugins on (schema, deny, redact: `hub+plugins`), whose
CPU per call less the plain hub's is what they add. Each gateway's CPU and added latency are also
printed over the floor's, from the same rounds.
The client must be cheap, or it, not the target, sets the pace: httpx topped out near 560
calls/s against the upstream alone on this machine, which flattered the hub's throughput ratio;
aiohttp (the load test's client) leaves the targets the CPU. Prints p50/p95 latency at
concurrency 1, the hub's added latency, throughput at concurrency 32 with its ratio to direct, and
the hub's CPU ms per call (from /proc, so it counts the hub process only).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import httpx

from infra.oidc import LocalAuthority
from infra.processes import AUTH_OFF, ROOT, Processes, free_port
from shared.mcp.sse import EventParser

FLOOR = Path(__file__).with_name("floor.py")
HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
# The three built-ins as an operator would set them: every call validated, searched by a rule, redacted.
PLUGINS = {
    "MCPHUB_PLUGIN_SCHEMA__MODULE": "schema",
    "MCPHUB_PLUGIN_DENY__MODULE": "deny",
    "MCPHUB_PLUGIN_DENY__CONFIG__DROP__PATTERN": r"(?i)\bdrop\s+table\b",
    "MCPHUB_PLUGIN_PII__MODULE": "redact",
}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    tool: str
    pid: int | None = None  # the gateway's process, for CPU accounting
    token: str | None = None  # sent as a bearer token on every request


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


# One POST: (url, JSON body, headers) -> (status, response headers, body). The benchmark uses aiohttp;
# `make profile` drives the hub in process through httpx's ASGI transport with the same Session.
Post = Callable[[str, bytes, dict[str, str]], Awaitable[tuple[int, Mapping[str, str], bytes]]]


def aiohttp_post(http: aiohttp.ClientSession) -> Post:
    async def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Mapping[str, str], bytes]:
        async with http.post(url, data=body, headers=headers) as response:
            return response.status, response.headers, await response.read()

    return post


def httpx_post(http: httpx.AsyncClient) -> Post:
    async def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Mapping[str, str], bytes]:
        response = await http.post(url, content=body, headers=headers)
        return response.status_code, response.headers, response.content

    return post


def _answer(headers: Mapping[str, str], content: bytes) -> dict[str, object]:
    if headers.get("content-type", "").startswith("text/event-stream"):
        for event in EventParser().feed(content):
            message = json.loads(event.data)
            if "id" in message:
                return message
        raise RuntimeError("stream ended without an answer")
    return json.loads(content)


class Session:
    """A minimal handshake-era client: one session, then tools/call as fast as it can."""

    def __init__(self, post: Post, url: str, token: str | None = None) -> None:
        self.post, self.url, self.headers = post, url, dict(HEADERS)
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.next_id = 1

    async def send(self, message: dict[str, object]) -> tuple[int, Mapping[str, str], bytes]:
        status, headers, content = await self.post(self.url, json.dumps(message).encode(), self.headers)
        if status >= 400:
            raise RuntimeError(f"HTTP {status} from {self.url}: {content[:200]!r}")
        return status, headers, content

    async def open(self) -> tuple[float, float]:
        """The handshake; returns how long `initialize` took, and the whole handshake (with
        `notifications/initialized`: a gateway may move work from one to the other)."""
        init = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}
        started = time.perf_counter()
        _, headers, _ = await self.send(self.message("initialize", init))
        elapsed = time.perf_counter() - started
        self.headers["Mcp-Session-Id"] = headers["mcp-session-id"]
        self.headers["MCP-Protocol-Version"] = "2025-11-25"
        await self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return elapsed, time.perf_counter() - started

    def message(self, method: str, params: dict[str, object]) -> dict[str, object]:
        self.next_id += 1
        return {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}

    async def call(self, tool: str) -> float:
        body = self.message("tools/call", {"name": tool, "arguments": {"text": "ping"}})
        started = time.perf_counter()
        _, headers, content = await self.send(body)
        answer = _answer(headers, content)
        elapsed = time.perf_counter() - started
        if "result" not in answer:
            raise RuntimeError(f"call failed: {answer}")
        return elapsed


async def initialize(http: Post, target: Target, sessions: int) -> list[tuple[float, float]]:
    """Sequential `initialize` and whole-handshake latencies of new sessions (each closed after, as
    an IDE's reconnect)."""
    taken: list[tuple[float, float]] = []
    for _ in range(sessions):
        session = Session(http, target.url, target.token)
        taken.append(await session.open())
    return taken


async def latency(http: Post, target: Target, calls: int) -> tuple[list[float], float]:
    """Sequential call latencies, and the hub's CPU seconds spent on them (steady state)."""
    session = Session(http, target.url, target.token)
    await session.open()
    for _ in range(max(5, calls // 10)):  # warm-up: connections, caches, upstream session, lazy imports
        await session.call(target.tool)
    cpu_before = cpu_seconds(target.pid) if target.pid else 0.0
    samples = [await session.call(target.tool) for _ in range(calls)]
    return samples, (cpu_seconds(target.pid) - cpu_before) if target.pid else 0.0


async def throughput(http: Post, target: Target, calls: int, concurrency: int) -> tuple[float, float]:
    """Calls per second with `concurrency` sessions calling back to back, and the hub's CPU seconds."""
    sessions = [Session(http, target.url, target.token) for _ in range(concurrency)]
    await asyncio.gather(*(s.open() for s in sessions))
    await asyncio.gather(*(s.call(target.tool) for s in sessions))
    remaining = calls

    async def worker(session: Session) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await session.call(target.tool)

    cpu_before = cpu_seconds(target.pid) if target.pid else 0.0
    started = time.perf_counter()
    await asyncio.gather(*(worker(s) for s in sessions))
    elapsed = time.perf_counter() - started
    return calls / elapsed, (cpu_seconds(target.pid) - cpu_before) if target.pid else 0.0


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] * 1000


async def measure(
    targets: list[Target], calls: int, concurrent_calls: int, concurrency: int, rounds: int
) -> dict[str, dict[str, float]]:
    """Every figure is the median over `rounds`; each round measures every target in turn.

    Interleaving rounds keeps a slow moment of this shared machine from landing on one target
    only; added latency and the throughput ratio are taken against the same round's direct run.
    """
    per_round: dict[str, list[dict[str, float]]] = {target.name: [] for target in targets}
    connector = aiohttp.TCPConnector(limit=concurrency * 2, keepalive_timeout=2)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as client:
        http = aiohttp_post(client)
        for _ in range(rounds):
            for target in targets:
                opened = await initialize(http, target, max(20, calls // 10))
                samples, cpu = await latency(http, target, calls)
                rate, busy_cpu = await throughput(http, target, concurrent_calls, concurrency)
                per_round[target.name].append(
                    {
                        "init_p50_ms": pct([i for i, _ in opened], 50),
                        "handshake_p50_ms": pct([h for _, h in opened], 50),
                        "p50_ms": pct(samples, 50),
                        "p95_ms": pct(samples, 95),
                        "rps_c1": 1 / statistics.fmean(samples),
                        f"rps_c{concurrency}": rate,
                        "cpu_ms_per_call": cpu * 1000 / calls,
                        "cpu_ms_per_call_busy": busy_cpu * 1000 / concurrent_calls,
                    }
                )
    direct = per_round[targets[0].name]
    for rows in per_round.values():
        for row, base in zip(rows, direct, strict=True):
            row["added_p50_ms"] = row["p50_ms"] - base["p50_ms"]
            row["added_init_p50_ms"] = row["init_p50_ms"] - base["init_p50_ms"]
            row["added_handshake_p50_ms"] = row["handshake_p50_ms"] - base["handshake_p50_ms"]
            row["added_p95_ms"] = row["p95_ms"] - base["p95_ms"]
            row["ratio"] = row[f"rps_c{concurrency}"] / base[f"rps_c{concurrency}"]
    return {
        name: {key: statistics.median(row[key] for row in rows) for key in rows[0]} for name, rows in per_round.items()
    }


def report(results: dict[str, dict[str, float]], concurrency: int, rounds: int) -> str:
    lines = [
        f"median of {rounds} interleaved round(s)",
        f"{'target':<12} {'p50 ms':>8} {'p95 ms':>8} {'+p50 ms':>8} {'+p95 ms':>8} {'rps c=1':>8} "
        f"{f'rps c={concurrency}':>9} {'ratio':>6} {'hub CPU ms/call':>16} {f'at c={concurrency}':>9}",
    ]
    for name, row in results.items():
        cpu = f"{row['cpu_ms_per_call']:.2f}" if name != "direct" else "-"
        busy = f"{row['cpu_ms_per_call_busy']:.2f}" if name != "direct" else "-"
        lines.append(
            f"{name:<12} {row['p50_ms']:>8.2f} {row['p95_ms']:>8.2f} {row['added_p50_ms']:>8.2f} "
            f"{row['added_p95_ms']:>8.2f} {row['rps_c1']:>8.0f} {row[f'rps_c{concurrency}']:>9.0f} "
            f"{row['ratio']:>6.2f} {cpu:>16} {busy:>9}"
        )
    floor = results.get("floor")
    if floor is not None:
        lines += [
            "",
            f"over the floor (same rounds)  {'CPU ms/call c=1':>16} {f'c={concurrency}':>7} {'+p50 ms':>8} "
            f"{'+initialize p50 ms (over direct)':>33} {'+handshake p50 ms':>18}",
        ]
        for name, row in results.items():
            if name in ("direct", "floor"):
                continue
            lines.append(
                f"{name:<29} {row['cpu_ms_per_call'] - floor['cpu_ms_per_call']:>16.2f} "
                f"{row['cpu_ms_per_call_busy'] - floor['cpu_ms_per_call_busy']:>7.2f} "
                f"{row['added_p50_ms'] - floor['added_p50_ms']:>8.2f} {row['added_init_p50_ms']:>33.2f} "
                f"{row['added_handshake_p50_ms']:>18.2f}"
            )
    if "hub+plugins" in results and "hub" in results:
        plugged, plain = results["hub+plugins"], results["hub"]
        lines.append(
            "the three built-in plugins add "
            f"{plugged['cpu_ms_per_call'] - plain['cpu_ms_per_call']:.2f} ms CPU per call at c=1 and "
            f"{plugged['cpu_ms_per_call_busy'] - plain['cpu_ms_per_call_busy']:.2f} at c={concurrency} "
            "(hub+plugins less hub, same rounds)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=500, help="sequential calls per target (concurrency 1)")
    parser.add_argument("--concurrent-calls", type=int, default=2000, help="calls per target at concurrency 32")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; figures are their medians")
    args = parser.parse_args(argv)
    processes = Processes(ROOT / ".local" / "logs" / "bench")
    try:
        azurite = processes.azurite()
        notes = processes.demo("notes")
        port = free_port()
        floor_argv = [sys.executable, str(FLOOR), "--upstream", f"{notes.url}/mcp", "--port", str(port)]
        floor = processes.start("floor", floor_argv, port)
        hub = processes.hub_over("hub-bench", azurite, {"notes": notes}, AUTH_OFF)
        authority = LocalAuthority.start(processes, processes.log_dir)
        signed = processes.hub_over("hub-bench-signed", azurite, {"notes": notes}, authority.hub_settings("tenant-a"))
        token = authority.mint(tenant="tenant-a", user="bench")
        plugged = processes.hub_over("hub-bench-plugins", azurite, {"notes": notes}, {**AUTH_OFF, **PLUGINS})
        targets = [
            Target("direct", f"{notes.url}/mcp", "echo"),
            Target("floor", f"{floor.url}/mcp", "echo", floor.process.pid),
            Target("hub/notes", f"{hub.url}/mcp/notes", "echo", hub.process.pid),
            Target("hub", f"{hub.url}/mcp", "notes__echo", hub.process.pid),
            Target("hub signed", f"{signed.url}/mcp", "notes__echo", signed.process.pid, token),
            Target("hub+plugins", f"{plugged.url}/mcp", "notes__echo", plugged.process.pid),
        ]
        results = asyncio.run(measure(targets, args.calls, args.concurrent_calls, args.concurrency, args.rounds))
    finally:
        processes.stop_all()
    print(report(results, args.concurrency, args.rounds))  # noqa: T201 - the benchmark's output
    return results


if __name__ == "__main__":
    main()
