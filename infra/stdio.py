"""A stdio server behind the bridge, locally, restarted like Container Apps restarts its container.

    python -m infra.stdio <name> --port <port>     (MCPHUB_STDIO_<NAME>__* and MCP_PROXY_API_KEY in the environment)

Runs bicep/bridge/entrypoint.sh, the container's own entrypoint, with the pinned mcp-proxy and the
pinned server that `make deps` installed (npm packages from node_modules, where the entrypoint finds
them at their pinned version; PyPI packages from the dev venv): nothing is downloaded at run time.
When the bridge exits (its stdio process died), it is started again on the same port; a server
that exits before the bridge ever listened is a configuration error, reported naming the setting,
and nothing is restarted.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import IO

from infra.processes import NODE, ROOT, wait_for_port
from shared.errors import ConfigError
from shared.stdio import STDIO_PREFIX, StdioServer, load_stdio_servers

ENTRYPOINT = ROOT / "bicep" / "bridge" / "entrypoint.sh"
# Container Apps backs off restarts too; locally a short, fixed pause keeps a crash loop from spinning.
RESTART_PAUSE = 0.5


def local_argv(server: StdioServer) -> list[str]:
    """The server's command line here: the same package and version the container runs, installed locally."""
    variable = f"{STDIO_PREFIX}{server.name.upper()}__"
    if server.image is not None:
        raise ConfigError(f"{variable}IMAGE: images run on Azure only; declare a PACKAGE to run the server locally")
    assert server.package is not None  # the model requires a package or an image
    if server.runner == "npx":
        return server.server_argv()  # the entrypoint finds it in node_modules (BRIDGE_NPM_PREFIX)
    name, _, version = server.package.partition("==")
    try:
        installed = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        installed = None
    if installed is None or installed.version != version:
        found = f"version {installed.version}" if installed else "not installed"
        raise ConfigError(
            f"{variable}PACKAGE: {server.package} runs locally from the dev venv, where {name} is {found}; "
            "pin that version in requirements-dev.txt (make deps installs it)"
        )
    scripts = [e.name for e in installed.entry_points if e.group == "console_scripts"]
    if not scripts:
        raise ConfigError(f"{variable}PACKAGE: {name} installs no command to start it with")
    script = name if name in scripts else scripts[0]
    return [str(Path(sys.executable).parent / script), *server.args]


def bridge_env(server: StdioServer, port: int) -> dict[str, str]:
    path = os.pathsep.join([str(NODE.resolve().parent), str(ROOT / "node_modules" / ".bin"), os.environ["PATH"]])
    return {
        **os.environ,
        **{key: value.get_secret_value() for key, value in server.env.items()},
        "PATH": path,
        "PORT": str(port),
        "BRIDGE_HOST": "127.0.0.1",
        "MCPHUB_STDIO_NAME": server.name,
        # npm packages come from make deps' node_modules, at their pinned version, never downloaded here.
        "BRIDGE_NPM_PREFIX": os.environ.get("BRIDGE_NPM_PREFIX", str(ROOT)),
        "BRIDGE_NPM_INSTALL": os.environ.get("BRIDGE_NPM_INSTALL", "no"),
        "PYTHONUNBUFFERED": "1",  # a Python server's buffered stdout can hold answers back (mcp-proxy's README)
    }


def exited_at_once(server: StdioServer, status: int, output: str) -> ConfigError:
    field = "PACKAGE" if server.package is not None else "COMMAND"
    tail = "\n".join(output.strip().splitlines()[-5:]) or "(no output)"
    return ConfigError(
        f"{STDIO_PREFIX}{server.name.upper()}__{field}: the stdio server exited at once "
        f"(the bridge ended with {status}) before it could connect; its last output:\n{tail}"
    )


def supervise(server: StdioServer, port: int, stop: threading.Event) -> int:
    """Run the bridge until `stop`, starting it again each time it exits. 2 for a server that never started."""
    argv = [str(ENTRYPOINT), *local_argv(server)]
    env = bridge_env(server, port)
    first = True
    while not stop.is_set():
        # A process group of its own, so that the whole tree (bridge, shell, server) is stopped together.
        bridge = subprocess.Popen(argv, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True, start_new_session=True)
        assert bridge.stderr is not None
        lines: list[str] = []
        reader = threading.Thread(target=_relay, args=(bridge.stderr, lines), daemon=True)
        reader.start()
        try:
            wait_for_port(port, timeout=60, process=bridge)
        except (RuntimeError, TimeoutError):
            bridge.kill()
            status = bridge.wait()
            reader.join(5)
            if first:
                sys.stderr.write(f"{exited_at_once(server, status, ''.join(lines))}\n")
                return 2
        else:
            first = False
            sys.stderr.write(f"bridge for {server.name!r} listening on 127.0.0.1:{port}\n")
            while bridge.poll() is None and not stop.wait(0.1):
                pass
        _stop(bridge)
        if stop.is_set():
            return 0
        sys.stderr.write(f"bridge for {server.name!r} exited ({bridge.returncode}); starting it again\n")
        stop.wait(RESTART_PAUSE)
    return 0


def _relay(stream: IO[str], lines: list[str]) -> None:
    for line in stream:
        lines.append(line)
        sys.stderr.write(line)


def _stop(bridge: subprocess.Popen[str], timeout: float = 10.0) -> None:
    """Stop the bridge, then wait (bounded) for the rest of its process group: the shell and the
    server outlive mcp-proxy by a moment, and a restarted bridge must not meet the old server."""
    if bridge.poll() is None:
        bridge.send_signal(signal.SIGTERM)
        try:
            bridge.wait(timeout)
        except subprocess.TimeoutExpired:
            bridge.kill()
            bridge.wait()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            os.killpg(bridge.pid, 0)
            time.sleep(0.05)
        os.killpg(bridge.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description="A stdio server behind the bridge, restarted when it exits.")
    parser.add_argument("name")
    parser.add_argument("--port", type=int, required=True)
    options = parser.parse_args()
    if not os.environ.get("MCP_PROXY_API_KEY"):
        sys.stderr.write("MCP_PROXY_API_KEY: the bridge serves only behind its key\n")
        return 2
    try:
        servers = load_stdio_servers(os.environ)
        if options.name not in servers:
            raise ConfigError(f"{STDIO_PREFIX}{options.name.upper()}__PACKAGE: no such stdio server is declared")
        server = servers[options.name]
        local_argv(server)
    except ConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    started = time.monotonic()
    code = supervise(server, options.port, stop)
    sys.stderr.write(f"stdio server {server.name!r} supervisor done after {time.monotonic() - started:.1f} s\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
