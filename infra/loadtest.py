"""`make loadtest`: 1,000 concurrent MCP users against the hub, the upstream alone and mcp-proxy.

Everything runs on this machine over loopback, in one run, one target after another with the same
load: users start evenly over `--ramp` seconds and all stay until the end of `--steady`; each
initializes (a 2025-11-25 session, or 2026-07-28 `server/discover` for `--modern` of them), lists
tools, then calls a tool after each think time (exponential, mean `--think` seconds). The users
are a raw MCP client over aiohttp (the same requests the SDK sends, at a fraction of its CPU, so a
thousand of them fit on this machine beside everything they measure), one connection each.

Targets: the demo upstream directly (the baseline), the hub's aggregated `/mcp` on the local
Functions host with Azurite and sign-in on (a token per user from the local OIDC authority), and
mcp-proxy from PyPI (in `.venv-peers`) in front of the same upstream. mcp-proxy serves HTTP only in
front of a stdio server, so it runs its own stdio client to the upstream: HTTP → mcp-proxy → stdio
→ mcp-proxy → HTTP upstream, the way it fronts a remote server.

Reports per target: p50/p95/p99 of each kind of request, errors, availability, the server
process's CPU ms per request and per call, its memory, Table Storage requests per call (Azurite's
access log), and ratios against the direct run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import ssl
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from infra.bench import CLOCK_TICKS, HEADERS, pct
from infra.oidc import AUDIENCE, SCOPE, LocalAuthority
from infra.processes import ROOT, Child, Processes, free_port
from shared.mcp.sse import EventParser

PEERS = ROOT / ".venv-peers" / "bin" / "mcp-proxy"
MODERN = "2026-07-28"
LEGACY = "2025-11-25"
META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "loadtest", "version": "1"},
}


@dataclass
class Target:
    name: str
    url: str
    tool: str
    servers: list[Child]  # processes whose CPU and memory are the target's cost
    modern_share: float = 0.0
    tokens: list[str] = field(default_factory=list[str])


@dataclass
class Tally:
    latency: dict[str, list[float]] = field(default_factory=dict[str, list[float]])
    errors: Counter[str] = field(default_factory=Counter[str])

    def record(self, kind: str, seconds: float) -> None:
        self.latency.setdefault(kind, []).append(seconds)

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latency.values()) + sum(self.errors.values())


class User:
    def __init__(self, http: aiohttp.ClientSession, target: Target, n: int, tally: Tally, rng: random.Random) -> None:
        self.http, self.target, self.tally, self.rng = http, target, tally, rng
        self.modern = rng.random() < target.modern_share
        self.headers = dict(HEADERS)
        if target.tokens:
            self.headers["Authorization"] = f"Bearer {target.tokens[n % len(target.tokens)]}"
        self.next_id = 0

    async def post(self, kind: str, method: str, params: dict[str, Any], *, notify: bool = False) -> dict[str, Any]:
        headers = dict(self.headers)
        if self.modern:
            params = {**params, "_meta": META}
            headers.update({"MCP-Protocol-Version": MODERN, "Mcp-Method": method})
            if "name" in params:
                headers["Mcp-Name"] = str(params["name"])
        self.next_id += 1
        body: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
        if not notify:
            body["id"] = self.next_id
        started = time.perf_counter()
        async with self.http.post(self.target.url, data=json.dumps(body), headers=headers) as response:
            content = await response.read()
            if notify:
                response.raise_for_status()
                return {}
            streamed = response.headers.get("content-type", "").startswith("text/event-stream")
            if response.status != 200:
                answer: dict[str, Any] = {"error": f"HTTP {response.status}"}
            else:
                answer = _answer_of(content, streamed)
            session = response.headers.get("mcp-session-id")
        if "result" not in answer:
            raise RuntimeError(f"{method}: {str(answer.get('error'))[:120]}")
        self.tally.record(kind, time.perf_counter() - started)
        if method == "initialize" and session:
            self.headers["Mcp-Session-Id"] = session
            self.headers["MCP-Protocol-Version"] = LEGACY
        return answer

    async def run(self, start: float, until: float, think: float) -> None:
        await asyncio.sleep(max(0.0, start - time.monotonic()))  # the ramp: this user's arrival
        try:
            if self.modern:
                await self.post("discover", "server/discover", {})
            else:
                init = {
                    "protocolVersion": LEGACY,
                    "capabilities": {},
                    "clientInfo": {"name": "loadtest", "version": "1"},
                }
                await self.post("initialize", "initialize", init)
                await self.post("initialized", "notifications/initialized", {}, notify=True)
            await self.post("list", "tools/list", {})
            while True:
                pause = min(self.rng.expovariate(1 / think), 3 * think)
                if time.monotonic() + pause >= until:
                    break
                await asyncio.sleep(pause)  # think time between a user's calls: the load's shape
                await self.post("call", "tools/call", {"name": self.target.tool, "arguments": {"text": "load"}})
        except (aiohttp.ClientError, TimeoutError, RuntimeError, KeyError, ValueError) as error:
            self.tally.errors[f"{type(error).__name__}: {str(error)[:100]}"] += 1
        if "Mcp-Session-Id" in self.headers:
            try:
                async with self.http.delete(self.target.url, headers=self.headers) as response:
                    await response.read()
            except (aiohttp.ClientError, TimeoutError) as error:
                self.tally.errors[f"DELETE {type(error).__name__}"] += 1


def _answer_of(content: bytes, streamed: bool) -> dict[str, Any]:
    """The JSON-RPC answer in a body: the JSON itself, or the SSE event that carries an `id`."""
    if not streamed:
        return json.loads(content)
    for event in EventParser().feed(content):
        message = json.loads(event.data)
        if "id" in message:
            return message
    return {"error": "the stream ended without an answer"}


def process_tree(pid: int) -> list[int]:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    return [pid, *(p for child in children for p in process_tree(int(child)))]


def cpu_and_memory(children: list[Child]) -> tuple[float, float, float]:
    """CPU seconds, resident MiB and peak resident MiB of these processes and their children."""
    cpu = rss = peak = 0.0
    for child in children:
        for pid in process_tree(child.process.pid):
            try:
                stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                status = dict(
                    line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
                )
            except OSError:
                continue
            cpu += (int(stat[11]) + int(stat[12])) / CLOCK_TICKS
            rss += int(status["VmRSS"].split()[0]) / 1024
            peak += int(status["VmHWM"].split()[0]) / 1024
    return cpu, rss, peak


def own_cpu() -> float:
    times = os.times()
    return times.user + times.system


_ACCESS = re.compile(rb'"(?P<method>[A-Z]+) /devstoreaccount1/(?P<table>[A-Za-z0-9]+|\$batch)[^"]*" [2345]')


def table_requests(azurite: Child) -> Counter[str]:
    """Requests Azurite has logged so far (its access log has one line per request), by table."""
    with azurite.log.open("rb") as log:
        found = _ACCESS.finditer(log.read())
        return Counter(f"{m['method'].decode()} {m['table'].decode()}" for m in found)


async def phase(target: Target, args: argparse.Namespace, azurite: Child) -> dict[str, Any]:
    tally, rng = Tally(), random.Random(7)
    connector = aiohttp.TCPConnector(limit=args.connections)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        users = [User(http, target, n, tally, rng) for n in range(args.users)]
        cpu0, _, _ = cpu_and_memory(target.servers)
        tables0, load0, started = table_requests(azurite), own_cpu(), time.monotonic()
        until = started + args.ramp + args.steady
        await asyncio.gather(
            *(u.run(started + args.ramp * n / args.users, until, args.think) for n, u in enumerate(users))
        )
        elapsed = time.monotonic() - started
        cpu1, rss, peak = cpu_and_memory(target.servers)
        tables = table_requests(azurite)
        tables.subtract(tables0)
        load_cpu = own_cpu() - load0
    calls = len(tally.latency.get("call", []))
    requests = tally.requests
    row: dict[str, Any] = {
        "users": args.users,
        "modern_users": sum(u.modern for u in users),
        "requests": requests,
        "calls": calls,
        "calls_per_s": calls / elapsed,
        "errors": sum(tally.errors.values()),
        "error_kinds": dict(tally.errors.most_common(5)),
        "availability": 1 - sum(tally.errors.values()) / max(1, requests),
        "cpu_ms_per_request": (cpu1 - cpu0) * 1000 / max(1, requests),
        "cpu_ms_per_call": (cpu1 - cpu0) * 1000 / max(1, calls),
        "rss_mib": rss,
        "peak_rss_mib": peak,
        "table_requests_per_call": tables.total() / max(1, calls),
        "table_requests": {name: n for name, n in tables.most_common() if n > 0},
        "loadgen_cpu_ms_per_request": load_cpu * 1000 / max(1, requests),
    }
    for kind, values in tally.latency.items():
        if len(values) >= 2:
            for q in (50, 95, 99):
                row[f"{kind}_p{q}_ms"] = pct(values, q)
    return row


async def mint_tokens(authority: LocalAuthority, users: int) -> list[str]:
    context = ssl.create_default_context(cafile=authority.ca_file)
    async with httpx.AsyncClient(verify=context, timeout=30) as http:

        async def one(n: int) -> str:
            claims = {"tid": "tenant-a", "oid": f"user-{n}", "sub": f"user-{n}-sub", "aud": AUDIENCE, "scp": SCOPE}
            form = {"grant_type": "client_credentials", "client_id": "loadtest", "claims": json.dumps(claims)}
            response = await http.post(f"{authority.origin}/token", data=form)
            response.raise_for_status()
            return str(response.json()["access_token"])

        tokens: list[str] = []
        for start in range(0, users, 50):
            tokens += await asyncio.gather(*(one(n) for n in range(start, min(users, start + 50))))
        return tokens


def _ms(row: dict[str, Any], key: str) -> float:
    return float(row.get(key, 0.0))


def report(rows: dict[str, dict[str, Any]]) -> str:
    base = rows["direct"]
    lines = [
        f"{'target':<10} {'users':>6} {'calls':>6} {'calls/s':>8} {'errors':>6} {'avail':>8} {'call p50':>8} "
        f"{'p95':>7} {'p99':>7} {'+p50':>6} {'+p95':>6} {'CPU ms/req':>10} {'/call':>6} {'RSS MiB':>8} {'peak':>6} "
        f"{'tables/call':>11}",
    ]
    for name, row in rows.items():
        added50 = _ms(row, "call_p50_ms") - _ms(base, "call_p50_ms")
        added95 = _ms(row, "call_p95_ms") - _ms(base, "call_p95_ms")
        lines.append(
            f"{name:<10} {row['users']:>6} {row['calls']:>6} {row['calls_per_s']:>8.1f} {row['errors']:>6} "
            f"{100 * row['availability']:>7.2f}% {_ms(row, 'call_p50_ms'):>8.2f} {_ms(row, 'call_p95_ms'):>7.2f} "
            f"{_ms(row, 'call_p99_ms'):>7.2f} {added50:>6.2f} {added95:>6.2f} {row['cpu_ms_per_request']:>10.2f} "
            f"{row['cpu_ms_per_call']:>6.2f} {row['rss_mib']:>8.0f} {row['peak_rss_mib']:>6.0f} "
            f"{row['table_requests_per_call']:>11.3f}"
        )
    lines.append("")
    for name, row in rows.items():
        parts = [
            f"{kind} p50/p95/p99 {row[f'{kind}_p50_ms']:.1f}/{row[f'{kind}_p95_ms']:.1f}/{row[f'{kind}_p99_ms']:.1f} ms"
            for kind in ("call", "list", "initialize", "discover")
            if f"{kind}_p50_ms" in row
        ]
        load = row["loadgen_cpu_ms_per_request"]
        lines.append(f"{name:<10} {'; '.join(parts)}; load generator {load:.2f} CPU ms/request")
        if row["table_requests"]:
            lines.append(f"{'':<10} Table Storage requests: {row['table_requests']}")
        if row["error_kinds"]:
            lines.append(f"{'':<10} errors: {row['error_kinds']}")
    if "mcp-proxy" in rows and "hub" in rows:
        hub, peer = rows["hub"], rows["mcp-proxy"]
        ratios = {
            "call p50": _ms(hub, "call_p50_ms") / _ms(peer, "call_p50_ms"),
            "call p95": _ms(hub, "call_p95_ms") / _ms(peer, "call_p95_ms"),
            "CPU per request": hub["cpu_ms_per_request"] / peer["cpu_ms_per_request"],
            "memory": hub["rss_mib"] / peer["rss_mib"],
        }
        lines += ["", "hub / mcp-proxy: " + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items())]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--modern", type=float, default=0.5, help="share of users on 2026-07-28 (hub only)")
    parser.add_argument("--ramp", type=float, default=30.0, help="seconds over which users arrive")
    parser.add_argument("--steady", type=float, default=60.0, help="seconds all users stay after the ramp")
    parser.add_argument("--think", type=float, default=10.0, help="mean think time between a user's calls")
    parser.add_argument("--connections", type=int, default=1000, help="HTTP connections of the load generator")
    parser.add_argument("--targets", default="direct,hub,mcp-proxy")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    wanted = args.targets.split(",")
    processes = Processes(ROOT / ".local" / "logs" / "loadtest")
    rows: dict[str, dict[str, Any]] = {}
    try:
        azurite = processes.azurite(access_log=True)
        notes = processes.demo("notes")
        authority = LocalAuthority.start(processes, processes.log_dir)
        hub = processes.hub_over("hub-load", azurite, {"notes": notes}, authority.hub_settings("tenant-a"))
        targets = [Target("direct", f"{notes.url}/mcp", "echo", [notes])]
        if "hub" in wanted:
            tokens = asyncio.run(mint_tokens(authority, args.users))
            targets.append(Target("hub", f"{hub.url}/mcp", "notes__echo", [hub], args.modern, tokens))
        if "mcp-proxy" in wanted:
            if not PEERS.exists():
                raise SystemExit("mcp-proxy is not installed: run `make peers` (make loadtest does this for you)")
            port = free_port()
            inner = [str(PEERS), "--transport", "streamablehttp", "--log-level", "WARNING", f"{notes.url}/mcp"]
            argv = [str(PEERS), "--port", str(port), "--log-level", "WARNING", "--", *inner]
            peer = processes.start("mcp-proxy", argv, port)
            targets.append(Target("mcp-proxy", f"{peer.url}/mcp", "echo", [peer]))
        for target in targets:
            rows[target.name] = asyncio.run(phase(target, args, azurite))
            # the upstream's cost in this phase, for reference
            sys.stdout.write(f"{target.name}: done ({rows[target.name]['calls']} calls)\n")
            sys.stdout.flush()
    finally:
        processes.stop_all()
    sys.stdout.write(report(rows) + "\n")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2))
    return rows


if __name__ == "__main__":
    main()
