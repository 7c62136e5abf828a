"""A real reverse proxy on this machine in front of local hub "regions": HAProxy (Debian's package),
with health checks on `/health` and its runtime API on a loopback port for the routing controller."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from infra.processes import Child, Processes, free_port, wait_for_port


@dataclass
class LocalProxy:
    child: Child
    admin_port: int

    @property
    def url(self) -> str:
        return self.child.url


def config(
    port: int, admin_port: int, regions: Mapping[str, int], *, check_interval_ms: int = 500, maxconn: int = 2000
) -> str:
    servers = "\n".join(
        f"  server {name} 127.0.0.1:{region_port} check weight 100" for name, region_port in regions.items()
    )
    return f"""global
  stats socket ipv4@127.0.0.1:{admin_port} level admin
  maxconn {maxconn}

defaults
  mode http
  timeout connect 2s
  timeout client 120s
  timeout server 120s
  option redispatch
  retries 2
  # Event streams are interactive: without this HAProxy sends with MSG_MORE, and the kernel holds a
  # lone event (or a stream's headers) up to 200 ms waiting for more (measured: 205 ms to a GET
  # stream's headers through HAProxy, 0.5 ms straight to the hub).
  option http-no-delay

frontend mcp
  bind 127.0.0.1:{port}
  default_backend hub

backend hub
  balance roundrobin
  option httpchk GET /health
  http-check expect status 200
  default-server inter {check_interval_ms} fall 2 rise 2
{servers}
"""


def start_proxy(
    processes: Processes,
    regions: Mapping[str, int],
    *,
    port: int | None = None,
    admin_port: int | None = None,
    maxconn: int = 2000,
) -> LocalProxy:
    """HAProxy balancing over `regions` (name -> local hub port); stopped with the other children.

    `maxconn` bounds the connections it holds at once, front and back: a client's open stream holds one."""
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(binary).exists():
        raise RuntimeError("HAProxy is not installed: `make deps` installs Debian's haproxy package")
    port, admin_port = port or free_port(), admin_port or free_port()
    path = processes.log_dir / "haproxy.cfg"
    processes.log_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(config(port, admin_port, regions, maxconn=maxconn))
    child = processes.start("haproxy", [binary, "-db", "-f", str(path)], port)
    wait_for_port(admin_port, process=child.process)
    return LocalProxy(child, admin_port)
