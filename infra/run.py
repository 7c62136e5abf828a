"""`make run`: Azurite, four demo upstreams, a local sign-in authority and the hub on 127.0.0.1:7071.

The fourth, `files`, is a real stdio server from npm (@modelcontextprotocol/server-filesystem, pinned
in package.json) on `.local/files`, behind the bridge the Azure deployment runs (infra/stdio.py).

Sign-in works as on Azure, with a local OIDC authority standing in for Entra ID: the IDE opens a
browser, which signs in at once as `developer@local` (roles Hub.User and Hub.Admin).
`MCPHUB_AUTH=off make run` switches sign-in off instead (the hub logs a warning). Ctrl-C stops all.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

from infra.oidc import LocalAuthority
from infra.processes import AUTH_OFF, ROOT, Processes
from shared.hub.install import install_options

HUB_PORT = int(os.environ.get("MCPHUB_PORT", "7071"))


def banner(url: str, logs: str, sign_in: str) -> str:
    """What a developer needs to point an IDE at the hub."""
    ide = install_options(url)
    return f"""
MCPHub is running.

  MCP URL (all servers):   {url}
  One server:              {url}/notes   {url}/clock   {url}/flaky
  A stdio server:          {url}/files   (npm server-filesystem on {FILES} behind the bridge)
  Health:                  {url.removesuffix("/mcp")}/health
  Logs:                    {logs}
  Sign-in:                 {sign_in}

Cursor (~/.cursor/mcp.json):
{ide.cursor_json}

VS Code (.vscode/mcp.json):
{ide.vscode_json}

Claude Code:
  {ide.claude_command}

Operator page:             {url.removesuffix("/mcp")}/operator
One-click install links:   {url.removesuffix("/mcp")}/start

Press Ctrl-C to stop everything.
"""


FILES = ROOT / ".local" / "files"
FILESYSTEM = "@modelcontextprotocol/server-filesystem@2026.8.31"


def files_server() -> dict[str, str]:
    """The stdio demo: the filesystem server on a folder of its own, with a file to find."""
    FILES.mkdir(parents=True, exist_ok=True)
    welcome = FILES / "welcome.md"
    if not welcome.exists():
        welcome.write_text("# Hello from a stdio server\n\nThis file was read by server-filesystem, through the hub.\n")
    return {"MCPHUB_STDIO_FILES__PACKAGE": FILESYSTEM, "MCPHUB_STDIO_FILES__ARGS": json.dumps([str(FILES)])}


def _sign_in(processes: Processes) -> tuple[dict[str, str], str]:
    if os.environ.get("MCPHUB_AUTH", "").lower() == "off":
        return dict(AUTH_OFF), "OFF (MCPHUB_AUTH=off): everyone is one anonymous user"
    authority = LocalAuthority.start(
        processes, ROOT / ".local" / "authority", browser_port=int(os.environ.get("MCPHUB_SIGN_IN_PORT", "7072"))
    )
    settings = {
        **authority.hub_settings("local"),
        **authority.facade_settings(),
        "MCPHUB_PUBLIC_URL": f"http://127.0.0.1:{HUB_PORT}",
        "MCPHUB_VAULT_KEY_FILE": str(ROOT / ".local" / "vault.key"),
    }
    return settings, f"your IDE opens a browser that signs you in as developer@local ({authority.origin})"


def main() -> None:
    processes = Processes(ROOT / ".local" / "logs")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        azurite = processes.azurite(int(os.environ.get("AZURITE_TABLE_PORT", "10002")))
        upstreams = {name: processes.demo(name) for name in ("notes", "clock", "flaky")}
        _, files = processes.stdio("files", files_server())
        settings, sign_in = _sign_in(processes)
        demo = {"MCPHUB_SERVER_FLAKY__TIMEOUT": "3", "MCPHUB_LIMIT_PERUSER__REQUESTS": "600", **files, **settings}
        processes.hub_over("hub", azurite, upstreams, demo, HUB_PORT)
        sys.stdout.write(banner(f"http://127.0.0.1:{HUB_PORT}/mcp", str(processes.log_dir), sign_in))
        sys.stdout.flush()
        while all(child.process.poll() is None for child in processes.children):
            time.sleep(0.5)
        dead = [child.name for child in processes.children if child.process.poll() is not None]
        sys.stderr.write(f"stopped: {', '.join(dead)} exited; see {processes.log_dir}\n")
    except KeyboardInterrupt:
        pass
    finally:
        processes.stop_all()


if __name__ == "__main__":
    main()
