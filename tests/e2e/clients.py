"""Signed-in test worlds: the MCP SDK client presenting a bearer token, and a hub with its own authority."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from infra.oidc import LocalAuthority
from infra.processes import Processes, free_port


@asynccontextmanager
async def client_for(url: str, token: str, mode: str = "legacy") -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as client,
    ):
        yield client


@contextmanager
def signed_in_hub(
    directory: Path,
    name: str,
    env: Mapping[str, str],
    *,
    tenants: Sequence[str] = ("tenant-a",),
    facade: bool = False,
    upstreams: Sequence[str] = (),
    instances: int = 1,
) -> Iterator[dict[str, Any]]:
    """A local OIDC authority and a hub that accepts its tokens (and, with `facade`, signs in there),
    plus demo `upstreams` of its own registered under their names; all stopped afterwards.
    With `instances` > 1, more instances of the same hub (same settings and storage) in "hubs"."""
    processes = Processes(directory)
    try:
        authority = LocalAuthority.start(processes, directory)
        demos = {demo: processes.demo(demo) for demo in upstreams}
        hubs = []
        for n in range(instances):
            port = free_port()
            settings = {
                "MCPHUB_PUBLIC_URL": f"http://127.0.0.1:{port}",
                **authority.hub_settings(*tenants),
                # Budgets of its own: the per-address registration cap (100 a day) would otherwise
                # count every module's sign-ins in the run against the next module's.
                "MCPHUB_LIMITS_TABLE": "limits" + re.sub(r"[^a-z0-9]", "", name.lower())[:50],
                **(authority.facade_settings() if facade else {}),
                **{f"MCPHUB_SERVER_{demo.upper()}__URL": f"{child.url}/mcp" for demo, child in demos.items()},
                **env,
            }
            hubs.append(processes.hub(name if n == 0 else f"{name}-{n}", settings, port))
        yield {"authority": authority, "hub": hubs[0], "hubs": hubs}
    finally:
        processes.stop_all()


async def audit_items(hub: str, admin_token: str, event: str, **filters: str) -> list[dict[str, Any]]:
    """The audit records of `event` (and `filters`) at hub URL `hub`, polled until some appear (20 s)."""
    with anyio.fail_after(20):
        async with httpx.AsyncClient(timeout=10) as http:
            while True:
                reply = await http.get(
                    f"{hub}/ops/audit",
                    params={"event": event, **filters},
                    headers={"Authorization": f"Bearer {admin_token}"},
                )
                if reply.status_code == 200 and (items := reply.json()["items"]):
                    return list(items)
                await anyio.sleep(0.2)


def start_regions(processes: Processes, env: Mapping[str, str], ports: Mapping[str, int], faults: Path) -> None:
    """A hub per region on its port, as two local regions; region "a" reads injected faults from `faults`."""
    for region, port in ports.items():
        extra = {"MCPHUB_LOCAL_FAULTS_FILE": str(faults)} if region == "a" else {}
        processes.hub(f"hub-{region}", {**env, "MCPHUB_REGION": region, **extra}, port)
