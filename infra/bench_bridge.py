"""`make bench-bridge`: what the hub adds to a round trip a handshake-era upstream makes to the client.

The upstream is the conformance fixture in its handshake-era form (`conformance-2025`): its
`test_input_required_result_sampling` asks the client's model once (a sampling request on the
call's stream) and answers with what the model said. One official MCP SDK client session per
target, rounds interleaved, in one run:

- `direct, 2025 client`: the SDK client in handshake mode straight to the upstream (the floor:
  the upstream's own request, answered over the same HTTP);
- `hub /mcp, 2025 client`: the same through the hub (the request relayed with a signed ID);
- `hub /mcp, 2026 client, same instance`: the SDK client in 2026-07-28 mode, so the request becomes
  an input_required result and the retry carries the answer, on the instance that holds it;
- `hub /mcp, 2026 client, other instance`: each retry lands on the other of two instances (the
  hand-over through Table Storage on Azurite).

The other way round, to the fixture served as a server of 2026-07-28 only (`conformance-2026`),
which answers the call with input_required:

- `direct, 2026 client -> 2026 upstream`: the SDK client in 2026-07-28 mode straight to it (the
  floor: the input_required result and the client's retry);
- `hub /mcp, 2025 client -> 2026 upstream, same instance`: the hub turns the input_required into a
  sampling request on the call's stream and retries upstream with the answer;
- `... other instance`: the client's answer lands on the other instance (through the store).

And to npm server-everything, whose streams are resumable (its SDK event store numbers every
event), with its `trigger-sampling-request`: the holder writes each round's resumption point to
the table before it answers, so another instance can resume the stream if the holder is lost:

- `direct, 2025 client -> server-everything` (the floor);
- `hub /mcp, 2026 client -> server-everything, same instance` and `..., other instance`.

Prints p50/p95 per call (one round trip each) and the added p50 over its floor.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
import mcp_types as types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from infra.balancer import AlternatingTransport
from infra.bench_stdio import Opener, measure, pct
from infra.processes import AUTH_OFF, ROOT, Processes, azurite_connection_string

TOOL = "test_input_required_result_sampling"
EVERYTHING_TOOL = "trigger-sampling-request"
ARGUMENTS: dict[str, dict[str, Any]] = {EVERYTHING_TOOL: {"prompt": "capital of France?", "maxTokens": 10}}
ANSWER = "Paris"


async def sample(context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
    return types.CreateMessageResult(
        role="assistant", content=types.TextContent(type="text", text=ANSWER), model="stand-in"
    )


@asynccontextmanager
async def client(url: str, mode: str, ports: list[int] | None = None) -> AsyncIterator[Client]:
    transport = AlternatingTransport(ports) if ports else None
    async with (
        httpx2.AsyncClient(transport=transport, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode, sampling_callback=sample) as opened,
    ):
        yield opened


async def timed(session: Client, tool: str, calls: int) -> list[float]:
    taken: list[float] = []
    for _ in range(calls):
        started = time.perf_counter()
        result = await session.call_tool(tool, ARGUMENTS.get(tool.rpartition("__")[2], {}))
        taken.append((time.perf_counter() - started) * 1000)
        block = result.content[0] if result.content else None
        if result.is_error or not isinstance(block, types.TextContent) or ANSWER not in block.text:
            raise RuntimeError(f"{tool} did not complete: {result.content}")
    return taken


def report(seen: dict[str, list[float]]) -> str:
    """Each target beside the floor of its direction (the last `direct` target before it)."""
    floor = 0.0
    lines = [f"{'target':<58}{'p50 ms':>9}{'p95 ms':>9}{'added p50 ms':>14}"]
    for name, values in seen.items():
        p50 = statistics.median(values)
        if name.startswith("direct"):
            floor = p50
        lines.append(f"{name:<58}{p50:>9.2f}{pct(values, 0.95):>9.2f}{p50 - floor:>14.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Run the benchmark; returns each target's p50/p95 (ms)."""
    parser = argparse.ArgumentParser(description="What the hub adds to an upstream's round trip to the client")
    parser.add_argument("--calls", type=int, default=100, help="calls per target per round")
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args(argv)
    processes = Processes(ROOT / ".local" / "bench-bridge")
    try:
        azurite = processes.azurite()
        upstream = processes.demo("conformance-2025")
        modern = processes.demo("conformance-2026")
        everything = processes.everything()
        env = {
            "MCPHUB_SERVER_EVERYTHING__URL": f"{everything.url}/mcp",
            "AzureWebJobsStorage": azurite_connection_string(azurite.port),
            "MCPHUB_SERVER_OLD__URL": f"{upstream.url}/mcp",
            "MCPHUB_SERVER_NEW__URL": f"{modern.url}/mcp",
            "MCPHUB_HUB_TOOLS": "false",
            **AUTH_OFF,
        }
        a, b = processes.hub("hub-bench-bridge-a", env), processes.hub("hub-bench-bridge-b", env)
        hub_tool = f"old__{TOOL}"
        targets: dict[str, tuple[Opener, str]] = {
            "direct, 2025 client": (lambda: client(f"{upstream.url}/mcp", "legacy"), TOOL),
            "hub /mcp, 2025 client": (lambda: client(f"{a.url}/mcp", "legacy"), hub_tool),
            "hub /mcp, 2026 client, same instance": (lambda: client(f"{a.url}/mcp", "2026-07-28"), hub_tool),
            "hub /mcp, 2026 client, other instance": (
                lambda: client(f"{a.url}/mcp", "2026-07-28", [a.port, b.port]),
                hub_tool,
            ),
            "direct, 2026 client -> 2026 upstream": (lambda: client(f"{modern.url}/mcp", "2026-07-28"), TOOL),
            "hub /mcp, 2025 client -> 2026 upstream, same instance": (
                lambda: client(f"{a.url}/mcp", "legacy"),
                f"new__{TOOL}",
            ),
            "hub /mcp, 2025 client -> 2026 upstream, other instance": (
                lambda: client(f"{a.url}/mcp", "legacy", [a.port, b.port]),
                f"new__{TOOL}",
            ),
            "direct, 2025 client -> server-everything": (
                lambda: client(f"{everything.url}/mcp", "legacy"),
                EVERYTHING_TOOL,
            ),
            "hub /mcp, 2026 client -> server-everything, same instance": (
                lambda: client(f"{a.url}/mcp", "2026-07-28"),
                f"everything__{EVERYTHING_TOOL}",
            ),
            "hub /mcp, 2026 client -> server-everything, other instance": (
                lambda: client(f"{a.url}/mcp", "2026-07-28", [a.port, b.port]),
                f"everything__{EVERYTHING_TOOL}",
            ),
        }
        seen = anyio.run(measure, targets, options.calls, options.rounds, timed)
    finally:
        processes.stop_all()
    print(report(seen))  # noqa: T201 - the benchmark's report
    print(f"\n{options.rounds} rounds x {options.calls} calls per target, one round trip to the client each")  # noqa: T201
    return {name: {"p50_ms": statistics.median(v), "p95_ms": pct(v, 0.95)} for name, v in seen.items()}


if __name__ == "__main__":
    main()
