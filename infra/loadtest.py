"""`make loadtest`: 1,000 MCP users shaped like IDEs against the hub, the upstream alone and mcp-proxy.

Everything runs on this machine over loopback, in one run, one target after another with the same
load. Users start evenly over `--ramp` seconds and all stay until the end of `--steady`. Each one
connects the way an IDE does: a 2025-11-25 session (initialize), or 2026-07-28 `server/discover`
for `--modern` of them, then lists tools. `--listeners` of them (half, by default) then hold a
stream open for their whole session, as IDEs do: the standalone GET stream of their session
(2025-11-25) or `subscriptions/listen` for tool-list changes (2026-07-28). Calls come in bursts of
3-10, back to back, after think times (exponential, mean `--think` seconds).

Halfway through the steady part the load generator calls `enable_word_count` on the target's
upstream directly (each target has an upstream of its own: the change is one-shot). Its tool list
changes, and every listener must hear `notifications/tools/list_changed` on its stream, list tools
again and see the new tool. Reported per target: listeners, how many heard the change, how fast,
and how many relists showed the new tool.

The users are a raw MCP client over aiohttp (the same requests the SDK sends, at a fraction of its
CPU, so a thousand of them fit on this machine beside everything they measure).

Targets: the demo upstream directly (the baseline); the hub as it scales out on Functions, two
instances of the local Functions host on one Azurite behind HAProxy (round robin, so one user's
requests land on both), sign-in on (a token per user from the local OIDC authority), aggregated
`/mcp`; and mcp-proxy from PyPI (in `.venv-peers`) in front of the same upstream. mcp-proxy serves
HTTP only in front of a stdio server, so it runs its own stdio client to the upstream: HTTP →
mcp-proxy → stdio → mcp-proxy → HTTP upstream, the way it fronts a remote server. It speaks only
2025-11-25, so its users all do.

Reports per target: p50/p95/p99 of each kind of request, errors, availability, the target's CPU
ms per request and per call and its memory, Table Storage requests per call (Azurite's access
log), and ratios against the direct run. For the hub also, per instance: CPU, memory and the
streams it held (its `/health`), and HAProxy's own CPU.
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
from infra.proxy import start_proxy
from shared.mcp.sse import EventParser

PEERS = ROOT / ".venv-peers" / "bin" / "mcp-proxy"
MODERN = "2026-07-28"
LEGACY = "2025-11-25"
META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "loadtest", "version": "1"},
}
CHANGED = "notifications/tools/list_changed"
ACKNOWLEDGED = "notifications/subscriptions/acknowledged"
TARGET_P95_MS = 100.0  # issue 27's target for calls under this load
STREAM_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10)  # a stream lasts the whole session
BURST = (3, 10)  # calls in a burst, back to back


@dataclass
class Target:
    name: str
    url: str
    tool: str
    new_tool: str  # the tool `enable_word_count` adds, as this target names it
    upstream: Child  # the notes server whose tool list this phase changes
    servers: list[Child]  # processes whose CPU and memory are the target's cost
    modern_share: float = 0.0
    tokens: list[str] = field(default_factory=list[str])
    instances: list[Child] = field(default_factory=list[Child])  # hub instances, each reported
    balancer: Child | None = None  # HAProxy in front of the instances, reported apart


@dataclass
class Tally:
    latency: dict[str, list[float]] = field(default_factory=dict[str, list[float]])
    errors: Counter[str] = field(default_factory=Counter[str])
    changed_at: float | None = None  # perf_counter when the change was sent to the upstream

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
        self.listener = False
        self.opened_at: float | None = None  # when its stream was open (GET answered, listen acknowledged)
        self.ended_at: float | None = None  # when its stream ended before the user left (an error)
        self.heard_at: float | None = None  # when `list_changed` arrived on it
        self.relisted_new_tool: bool | None = None  # whether the list after it showed the new tool

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

    async def connect(self) -> None:
        if self.modern:
            await self.post("discover", "server/discover", {})
        else:
            init = {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "loadtest", "version": "1"}}
            await self.post("initialize", "initialize", init)
            await self.post("initialized", "notifications/initialized", {}, notify=True)

    async def listen(self) -> None:
        """Hold the stream an IDE holds; on `list_changed`, note when, list again, check the new tool."""
        if self.modern:
            headers = {**self.headers, "MCP-Protocol-Version": MODERN, "Mcp-Method": "subscriptions/listen"}
            params = {"notifications": {"toolsListChanged": True}, "_meta": META}
            body = {"jsonrpc": "2.0", "id": "listen", "method": "subscriptions/listen", "params": params}
            request = self.http.post(self.target.url, data=json.dumps(body), headers=headers, timeout=STREAM_TIMEOUT)
        else:
            headers = {k: v for k, v in self.headers.items() if k != "Content-Type"}
            headers["Accept"] = "text/event-stream"
            request = self.http.get(self.target.url, headers=headers, timeout=STREAM_TIMEOUT)
        started = time.perf_counter()
        async with request as response:
            if response.status != 200 or not response.headers.get("content-type", "").startswith("text/event-stream"):
                raise RuntimeError(f"stream: HTTP {response.status} {response.headers.get('content-type')}")
            if not self.modern:  # a GET stream is open once answered; a listen once acknowledged
                self.opened_at = time.perf_counter()
                self.tally.record("stream", self.opened_at - started)
            parser = EventParser()
            async for chunk in response.content.iter_any():
                for event in parser.feed(chunk):
                    if not event.data:
                        continue
                    method = json.loads(event.data).get("method")
                    if method == ACKNOWLEDGED and self.opened_at is None:
                        self.opened_at = time.perf_counter()
                        self.tally.record("stream", self.opened_at - started)
                    elif method == CHANGED and self.heard_at is None:
                        self.heard_at = time.perf_counter()
                        listed = await self.post("relist", "tools/list", {})
                        names = {tool["name"] for tool in listed["result"]["tools"]}
                        self.relisted_new_tool = self.target.new_tool in names
        raise RuntimeError("the stream ended before the user left")

    async def _hold(self) -> None:
        try:
            await self.listen()
        except (aiohttp.ClientError, TimeoutError, RuntimeError, KeyError, ValueError) as error:
            self.ended_at = time.perf_counter()
            self.tally.errors[f"stream {type(error).__name__}: {str(error)[:100]}"] += 1

    async def run(self, start: float, until: float, think: float) -> None:
        await asyncio.sleep(max(0.0, start - time.monotonic()))  # the ramp: this user's arrival
        stream: asyncio.Task[None] | None = None
        try:
            await self.connect()
            await self.post("list", "tools/list", {})
            if self.listener:
                stream = asyncio.create_task(self._hold())
            while True:
                pause = min(self.rng.expovariate(1 / think), 3 * think)
                if time.monotonic() + pause >= until:
                    break
                await asyncio.sleep(pause)  # think time between a user's bursts: the load's shape
                for _ in range(self.rng.randint(*BURST)):
                    await self.post("call", "tools/call", {"name": self.target.tool, "arguments": {"text": "load"}})
            await asyncio.sleep(max(0.0, until - time.monotonic()))  # stays connected to the end
        except (aiohttp.ClientError, TimeoutError, RuntimeError, KeyError, ValueError) as error:
            self.tally.errors[f"{type(error).__name__}: {str(error)[:100]}"] += 1
        if stream is not None:
            stream.cancel()
            await asyncio.gather(stream, return_exceptions=True)
        if "Mcp-Session-Id" in self.headers:
            try:
                async with self.http.delete(self.target.url, headers=self.headers) as response:
                    await response.read()
            except (aiohttp.ClientError, TimeoutError) as error:
                self.tally.errors[f"DELETE {type(error).__name__}"] += 1


async def change_tools(http: aiohttp.ClientSession, target: Target, tally: Tally, at: float) -> None:
    """Mid-run the upstream's tool list changes: `enable_word_count`, called on the upstream directly."""
    await asyncio.sleep(max(0.0, at - time.monotonic()))
    upstream = Target("upstream", f"{target.upstream.url}/mcp", "", "", target.upstream, [])
    changer = User(http, upstream, 0, Tally(), random.Random(0))
    await changer.connect()
    tally.changed_at = time.perf_counter()
    await changer.post("change", "tools/call", {"name": "enable_word_count", "arguments": {}})


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


async def streams_of(http: aiohttp.ClientSession, instance: Child) -> dict[str, int]:
    """The streams a hub instance holds open now and the most at once (its `/health`)."""
    async with http.get(f"{instance.url}/health") as response:
        body = json.loads(await response.read())
    return dict(body.get("streams", {}))


def delivery(users: list[User], changed_at: float | None) -> dict[str, Any]:
    """Listeners whose stream was open when the change was made, and what reached them."""
    open_then = [
        u
        for u in users
        if changed_at is not None  # no change was made (its call failed, counted as an error): none open then
        and u.opened_at is not None
        and u.opened_at < changed_at
        and (u.ended_at is None or u.ended_at > changed_at)
    ]
    heard = [u.heard_at - changed_at for u in open_then if u.heard_at is not None and changed_at is not None]
    row: dict[str, Any] = {
        "listeners": sum(u.listener for u in users),
        "open_at_change": len(open_then),
        "heard": len(heard),
        "missed": len(open_then) - len(heard),
        "relists_with_new_tool": sum(u.relisted_new_tool is True for u in open_then),
        "relists_stale": sum(u.relisted_new_tool is False for u in open_then),
    }
    if len(heard) >= 2:
        row |= {"heard_p50_ms": pct(heard, 50), "heard_p95_ms": pct(heard, 95), "heard_max_ms": max(heard) * 1000}
    return row


async def phase(target: Target, args: argparse.Namespace, azurite: Child) -> dict[str, Any]:
    tally, rng = Tally(), random.Random(7)
    connector = aiohttp.TCPConnector(limit=2 * args.users + 16)  # a call and a stream per user at most
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        users = [User(http, target, n, tally, rng) for n in range(args.users)]
        for user in users:
            user.listener = rng.random() < args.listeners
        watched = [*target.servers, *target.instances, *([target.balancer] if target.balancer else [])]
        cpu0 = {child.name: cpu_and_memory([child])[0] for child in watched}
        tables0, load0, started = table_requests(azurite), own_cpu(), time.monotonic()
        until = started + args.ramp + args.steady
        change = asyncio.create_task(change_tools(http, target, tally, started + args.ramp + args.steady / 2))
        await asyncio.gather(
            *(u.run(started + args.ramp * n / args.users, until, args.think) for n, u in enumerate(users))
        )
        elapsed = time.monotonic() - started
        try:
            await change
        except (aiohttp.ClientError, TimeoutError, RuntimeError, KeyError, ValueError) as error:
            tally.errors[f"change {type(error).__name__}: {str(error)[:100]}"] += 1
        usage = {child.name: cpu_and_memory([child]) for child in watched}
        streams = {i.name: await streams_of(http, i) for i in target.instances}
        tables = table_requests(azurite)
        tables.subtract(tables0)
        load_cpu = own_cpu() - load0
    calls = len(tally.latency.get("call", []))
    requests = tally.requests
    cpu = sum(usage[c.name][0] - cpu0[c.name] for c in target.servers)
    row: dict[str, Any] = {
        "users": args.users,
        "modern_users": sum(u.modern for u in users),
        "requests": requests,
        "calls": calls,
        "calls_per_s": calls / elapsed,
        "errors": sum(tally.errors.values()),
        "error_kinds": dict(tally.errors.most_common(5)),
        "availability": 1 - sum(tally.errors.values()) / max(1, requests),
        "cpu_ms_per_request": cpu * 1000 / max(1, requests),
        "cpu_ms_per_call": cpu * 1000 / max(1, calls),
        "rss_mib": sum(usage[c.name][1] for c in target.servers),
        "peak_rss_mib": sum(usage[c.name][2] for c in target.servers),
        "table_requests_per_call": tables.total() / max(1, calls),
        "table_requests": {name: n for name, n in tables.most_common() if n > 0},
        "loadgen_cpu_ms_per_request": load_cpu * 1000 / max(1, requests),
        **delivery(users, tally.changed_at),
        "instances": {
            i.name: {
                "cpu_s": usage[i.name][0] - cpu0[i.name],
                "cpu_share": (usage[i.name][0] - cpu0[i.name]) / elapsed,
                "rss_mib": usage[i.name][1],
                "streams_peak": streams[i.name].get("peak", 0),
                "streams_open_at_end": streams[i.name].get("open", 0),
            }
            for i in target.instances
        },
    }
    if target.balancer is not None:
        row["balancer_cpu_ms_per_request"] = (
            (usage[target.balancer.name][0] - cpu0[target.balancer.name]) * 1000 / max(1, requests)
        )
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


def verdict(row: dict[str, Any]) -> str:
    """Issue 27's targets for this load: call p95 < 100 ms, no errors, every listener heard the change."""
    checks = {
        f"call p95 < {TARGET_P95_MS:g} ms": _ms(row, "call_p95_ms") < TARGET_P95_MS,
        "0 errors": row["errors"] == 0,
        "every list_changed delivered": row["open_at_change"] > 0 and row["missed"] == 0,
        "every relist shows the new tool": row["relists_with_new_tool"] == row["open_at_change"] > 0,
    }
    return ", ".join(f"{name} {'yes' if ok else 'NO'}" for name, ok in checks.items())


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
    lines += [
        "",
        f"{'list_changed':<12} {'listeners':>9} {'open then':>9} {'heard':>6} {'missed':>6} {'p50 ms':>7} "
        f"{'p95 ms':>7} {'max ms':>7} {'relist new':>10} {'stale':>6}",
    ]
    for name, row in rows.items():
        lines.append(
            f"{name:<12} {row['listeners']:>9} {row['open_at_change']:>9} {row['heard']:>6} "
            f"{row['missed']:>6} {_ms(row, 'heard_p50_ms'):>7.1f} {_ms(row, 'heard_p95_ms'):>7.1f} "
            f"{_ms(row, 'heard_max_ms'):>7.1f} {row['relists_with_new_tool']:>10} {row['relists_stale']:>6}"
        )
    lines.append("")
    for name, row in rows.items():
        parts = [
            f"{kind} p50/p95/p99 {row[f'{kind}_p50_ms']:.1f}/{row[f'{kind}_p95_ms']:.1f}/{row[f'{kind}_p99_ms']:.1f} ms"
            for kind in ("call", "list", "initialize", "discover", "stream", "relist")
            if f"{kind}_p50_ms" in row
        ]
        load = row["loadgen_cpu_ms_per_request"]
        lines.append(f"{name:<10} {'; '.join(parts)}; load generator {load:.2f} CPU ms/request")
        for instance, figures in row["instances"].items():
            lines.append(
                f"{'':<10} instance {instance}: CPU {figures['cpu_s']:.1f} s ({100 * figures['cpu_share']:.0f}% of a "
                f"core), RSS {figures['rss_mib']:.0f} MiB, streams peak {figures['streams_peak']}"
            )
        if "balancer_cpu_ms_per_request" in row:
            lines.append(f"{'':<10} HAProxy: {row['balancer_cpu_ms_per_request']:.3f} CPU ms/request")
        if row["table_requests"]:
            lines.append(f"{'':<10} Table Storage requests: {row['table_requests']}")
        if row["error_kinds"]:
            lines.append(f"{'':<10} errors: {row['error_kinds']}")
        lines.append(f"{'':<10} targets: {verdict(row)}")
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


def start_mcp_proxy(processes: Processes, upstream: Child) -> Child:
    """mcp-proxy over HTTP in front of `upstream`, through its own stdio client (the way it fronts
    a remote server: HTTP → mcp-proxy → stdio → mcp-proxy → HTTP)."""
    if not PEERS.exists():
        raise SystemExit("mcp-proxy is not installed: run `make peers` (the make target does this for you)")
    port = free_port()
    inner = [str(PEERS), "--transport", "streamablehttp", "--log-level", "WARNING", f"{upstream.url}/mcp"]
    return processes.start("mcp-proxy", [str(PEERS), "--port", str(port), "--log-level", "WARNING", "--", *inner], port)


def main(argv: list[str] | None = None) -> dict[str, dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--modern", type=float, default=0.5, help="share of users on 2026-07-28 (not mcp-proxy's)")
    parser.add_argument("--listeners", type=float, default=0.5, help="share of users holding a stream open")
    parser.add_argument("--ramp", type=float, default=30.0, help="seconds over which users arrive")
    parser.add_argument("--steady", type=float, default=60.0, help="seconds all users stay after the ramp")
    parser.add_argument("--think", type=float, default=40.0, help="mean think time between a user's bursts")
    parser.add_argument("--instances", type=int, default=2, help="hub instances behind HAProxy")
    parser.add_argument("--targets", default="direct,hub,mcp-proxy")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    wanted = args.targets.split(",")
    processes = Processes(ROOT / ".local" / "logs" / "loadtest")
    rows: dict[str, dict[str, Any]] = {}
    try:
        azurite = processes.azurite(access_log=True)
        upstream = processes.demo("notes")
        targets = [Target("direct", f"{upstream.url}/mcp", "echo", "word_count", upstream, [upstream], args.modern)]
        if "hub" in wanted:
            authority = LocalAuthority.start(processes, processes.log_dir)
            notes = processes.demo("notes", label="notes-hub")
            settings = authority.hub_settings("tenant-a")
            instances = [
                processes.hub_over(f"hub-{chr(97 + n)}", azurite, {"notes": notes}, settings)
                for n in range(args.instances)
            ]
            regions = {instance.name: instance.port for instance in instances}
            balancer = start_proxy(processes, regions, maxconn=max(2000, 3 * args.users + 100))
            tokens = asyncio.run(mint_tokens(authority, args.users))
            url = f"{balancer.url}/mcp"
            hub = Target("hub", url, "notes__echo", "notes__word_count", notes, servers=instances, instances=instances)
            hub.modern_share, hub.tokens, hub.balancer = args.modern, tokens, balancer.child
            targets.append(hub)
        if "mcp-proxy" in wanted:
            notes = processes.demo("notes", label="notes-peer")
            peer = start_mcp_proxy(processes, notes)
            targets.append(Target("mcp-proxy", f"{peer.url}/mcp", "echo", "word_count", notes, [peer]))
        for target in targets:
            rows[target.name] = asyncio.run(phase(target, args, azurite))
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
