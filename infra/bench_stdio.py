"""`make bench-stdio`: what the bridge adds to a stdio server's calls, and what a bridged server holds in memory.

One official MCP SDK client session per target, all to the same stdio server (npm
server-everything's `echo`, pinned in package.json), in one run, rounds interleaved:

- `stdio`: the SDK client spawning the server itself over stdio (the floor);
- `bridge`: the same server behind the bridge the deployment runs (npm mcp-proxy through
  bicep/bridge/entrypoint.sh, infra/stdio.py), over Streamable HTTP with the bridge key;
- `bridge-pypi`: PyPI mcp-proxy 0.13.0 (`make peers`), the bridge not chosen, if installed;
- `hub/<server>` and `hub`: through the hub (sign-in off, Azurite) to the bridge.

Prints p50/p95 per call and each target's added p50 over `stdio`, then the resident memory of
mcp-proxy, the server, and the whole bridged tree (mcp-proxy, shell, server).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from pathlib import Path

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from infra.processes import (
    AUTH_OFF,
    NODE,
    ROOT,
    Child,
    Processes,
    azurite_connection_string,
    command_line,
    descendants,
    free_port,
)

PACKAGE = "@modelcontextprotocol/server-everything@2026.8.31"
SCRIPT = ROOT / "node_modules" / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"
PEER = ROOT / ".venv-peers" / "bin" / "mcp-proxy"
NAME = "everything"


def rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total / 1024


@asynccontextmanager
async def over_http(url: str, headers: dict[str, str]) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        yield client


async def timed(client: Client, tool: str, calls: int) -> list[float]:
    taken: list[float] = []
    for n in range(calls):
        started = time.perf_counter()
        result = await client.call_tool(tool, {"message": f"call {n}"})
        taken.append((time.perf_counter() - started) * 1000)
        if result.is_error:
            raise RuntimeError(f"{tool} failed: {result.content}")
    return taken


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


Opener = Callable[[], AbstractAsyncContextManager[Client]]


Timer = Callable[[Client, str, int], Awaitable[list[float]]]


async def measure(
    targets: dict[str, tuple[Opener, str]], calls: int, rounds: int, timer: Timer = timed
) -> dict[str, list[float]]:
    """One session per target, `timer`'s calls in interleaved rounds after a warm-up each."""
    seen: dict[str, list[float]] = {name: [] for name in targets}
    async with AsyncExitStack() as stack:
        clients = {name: await stack.enter_async_context(open_()) for name, (open_, _) in targets.items()}
        for name, client in clients.items():
            await timer(client, targets[name][1], 20)  # warm-up: connections, JIT, caches
        for _ in range(rounds):
            for name, client in clients.items():
                seen[name] += await timer(client, targets[name][1], calls)
    return seen


def report(seen: dict[str, list[float]], memory: dict[str, float]) -> str:
    floor = statistics.median(seen["stdio"])
    lines = [f"{'target':<22}{'p50 ms':>9}{'p95 ms':>9}{'added p50 ms':>14}"]
    for name, values in seen.items():
        p50 = statistics.median(values)
        lines.append(f"{name:<22}{p50:>9.2f}{pct(values, 0.95):>9.2f}{p50 - floor:>14.2f}")
    lines.append("")
    lines += [f"memory, {label}: {mib:.0f} MiB" for label, mib in memory.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Run the benchmark; returns each target's p50/p95 (ms) and, under "memory_mib", the memory figures."""
    parser = argparse.ArgumentParser(description="What the bridge adds to a stdio server's calls")
    parser.add_argument("--calls", type=int, default=300, help="calls per target per round")
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args(argv)
    processes = Processes(ROOT / ".local" / "bench-stdio")
    try:
        declared = {f"MCPHUB_STDIO_{NAME.upper()}__PACKAGE": PACKAGE, f"MCPHUB_STDIO_{NAME.upper()}__ARGS": '["stdio"]'}
        bridge, settings = processes.stdio(NAME, declared)
        key = settings[f"MCPHUB_SERVER_{NAME.upper()}__HEADERS__X_API_KEY"]
        azurite = processes.azurite()
        hub = processes.hub(
            "hub-bench-stdio", {"AzureWebJobsStorage": azurite_connection_string(azurite.port), **settings, **AUTH_OFF}
        )
        direct = StdioServerParameters(command=str(NODE), args=[str(SCRIPT), "stdio"])
        targets: dict[str, tuple[Opener, str]] = {
            "stdio": (lambda: Client(direct), "echo"),
            "bridge": (lambda: over_http(f"{bridge.url}/mcp", {"X-API-Key": key}), "echo"),
        }
        peer: Child | None = None
        if PEER.exists():
            port = free_port()
            argv_peer = [str(PEER), "--host", "127.0.0.1", "--port", str(port), "--stateless", str(NODE), str(SCRIPT)]
            peer = processes.start("bridge-pypi", [*argv_peer, "stdio"], port)
            peer_url = f"{peer.url}/mcp"
            targets["bridge-pypi"] = (lambda: over_http(peer_url, {}), "echo")
        targets[f"hub/{NAME}"] = (lambda: over_http(f"{hub.url}/mcp/{NAME}", {}), "echo")
        targets["hub"] = (lambda: over_http(f"{hub.url}/mcp", {}), f"{NAME}__echo")
        seen = anyio.run(measure, targets, options.calls, options.rounds)
        below = descendants(bridge.process.pid)  # the supervisor (infra/stdio.py) is not the bridge's cost
        part = {
            label: [p for p in below if command_line(p).startswith(prefix)]
            for label, prefix in (
                ("mcp-proxy", "node " + str(ROOT / "node_modules" / ".bin" / "mcp-proxy")),
                ("server", "node " + str(ROOT / "node_modules" / ".bin" / "mcp-server-")),
            )
        }
        memory = {f"{label} alone": rss_mib(pids) for label, pids in part.items()}
        memory["bridged in all (mcp-proxy, shell, server)"] = rss_mib(below)
        if peer is not None:
            memory["PyPI mcp-proxy bridging it (proxy + server)"] = rss_mib(
                [peer.process.pid, *descendants(peer.process.pid)]
            )
    finally:
        processes.stop_all()
    print(report(seen, memory))  # noqa: T201 - the benchmark's report
    print(f"\n{options.rounds} rounds x {options.calls} calls per target, one SDK client session each")  # noqa: T201
    return {
        name: {"p50_ms": statistics.median(values), "p95_ms": pct(values, 0.95)} for name, values in seen.items()
    } | {"memory_mib": memory}


if __name__ == "__main__":
    main()
