"""`make profile`: where the hub's CPU goes on the hot path, with cProfile.

The hub runs in this process (the Function App under the local host, called through httpx's ASGI
transport, with Azurite and sign-in on as in production), the demo upstream in its own. After a
warm-up, `--calls` tools/call requests on `/mcp` run at concurrency 8: first unprofiled, for the
CPU ms per call (this process only, so the client's share is included and printed separately),
then under cProfile. Prints the top functions by own time and the time per package.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

from infra.bench import Post, Session, httpx_post
from infra.oidc import LocalAuthority
from infra.processes import ROOT, Processes, azurite_connection_string

GROUPS = (
    ("shared/", "hub: shared/"),
    ("functions/", "hub: functions/"),
    ("infra/funchost", "local host"),
    ("azure/", "Azure SDK + Functions"),
    ("azurefunctions/", "Azure SDK + Functions"),
    ("httpx", "httpx / httpcore"),
    ("httpcore", "httpx / httpcore"),
    ("h11", "httpx / httpcore"),
    ("anyio", "asyncio / anyio"),
    ("asyncio", "asyncio / anyio"),
    ("starlette", "starlette"),
    ("pydantic", "pydantic"),
    ("jwt", "PyJWT / cryptography"),
    ("cryptography", "PyJWT / cryptography"),
    ("opentelemetry", "OpenTelemetry"),
    ("json", "json"),
    ("logging", "logging"),
)


async def calls(http: Post, count: int, concurrency: int) -> None:
    """`count` calls of `notes__echo` on `/mcp`, from `concurrency` sessions of `make bench`'s client."""

    async def session(n: int) -> None:
        client = Session(http, "/mcp")
        await client.open()
        for _ in range(n):
            await client.call("notes__echo")

    await asyncio.gather(*(session(count // concurrency) for _ in range(concurrency)))


def group_of(filename: str) -> str:
    for marker, group in GROUPS:
        if marker in filename:
            return group
    return "other (stdlib, builtins)"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--dump", type=Path, help="also save the raw profile here (for pstats or snakeviz)")
    args = parser.parse_args(argv)
    processes = Processes(ROOT / ".local" / "logs" / "profile")
    try:
        azurite = processes.azurite()
        notes = processes.demo("notes")
        authority = LocalAuthority.start(processes, processes.log_dir)
        os.environ.update(
            {
                "AzureWebJobsStorage": azurite_connection_string(azurite.port),
                "MCPHUB_SERVER_NOTES__URL": f"{notes.url}/mcp",
                **authority.hub_settings("tenant-a"),
            }
        )
        token = authority.mint(tenant="tenant-a", user="profiler")
        import function_app
        from infra.funchost.host import LocalFunctionsHost

        host = LocalFunctionsHost(function_app.app, timers_enabled=False)

        async def run() -> tuple[float, float, pstats.Stats]:
            transport = httpx.ASGITransport(app=host)
            signed_in = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(
                transport=transport, base_url="http://hub", headers=signed_in, timeout=30
            ) as http:
                post = httpx_post(http)
                await calls(post, 400, 8)  # warm-up: sessions, caches, upstream pool
                cpu, wall = time.process_time(), time.perf_counter()
                await calls(post, args.calls, 8)
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                profiler = cProfile.Profile()
                profiler.enable()
                await calls(post, args.calls, 8)
                profiler.disable()
            from functions._deps import hub

            await hub().aclose()
            return cpu, wall, pstats.Stats(profiler)

        cpu, wall, stats = asyncio.run(run())
    finally:
        processes.stop_all()
    if args.dump:
        stats.dump_stats(args.dump)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined] - pstats keeps its table here
    total = sum(entry[2] for entry in raw.values())
    by_group: dict[str, float] = defaultdict(float)
    for (filename, _, _), entry in raw.items():
        by_group[group_of(filename)] += entry[2]
    out = io.StringIO()
    stats.stream = out  # type: ignore[attr-defined] - pstats prints to this stream
    stats.sort_stats("tottime").print_stats(args.top)
    lines = [
        f"{args.calls} calls at concurrency 8: {cpu * 1000 / args.calls:.2f} CPU ms per call in this process "
        f"(hub and its in-process client), {args.calls / wall:.0f} calls/s",
        "",
        "own time by package (under cProfile):",
        *(f"  {share / total:6.1%}  {group}" for group, share in sorted(by_group.items(), key=lambda kv: -kv[1])),
        "",
        out.getvalue().split("\n\n", 1)[-1].strip(),
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    return {"cpu_ms_per_call": cpu * 1000 / args.calls, "groups": {k: v / total for k, v in by_group.items()}}


if __name__ == "__main__":
    main()
