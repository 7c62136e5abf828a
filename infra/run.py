"""`make run`: Azurite, three demo upstreams and the hub on 127.0.0.1:7071. Ctrl-C stops them all."""

from __future__ import annotations

import json
import os
import signal
import sys
import time

from infra.processes import AUTH_OFF, ROOT, Processes

HUB_PORT = int(os.environ.get("MCPHUB_PORT", "7071"))


def banner(url: str, logs: str) -> str:
    """What a developer needs to point an IDE at the hub."""
    cursor = json.dumps({"mcpServers": {"mcphub": {"url": url}}}, indent=2)
    vscode = json.dumps({"servers": {"mcphub": {"type": "http", "url": url}}}, indent=2)
    return f"""
MCPHub is running.

  MCP URL (all servers):   {url}
  One server:              {url}/notes   {url}/clock   {url}/flaky
  Health:                  {url.removesuffix("/mcp")}/health
  Logs:                    {logs}

Cursor (~/.cursor/mcp.json):
{cursor}

VS Code (.vscode/mcp.json):
{vscode}

Claude Code:
  claude mcp add --transport http mcphub {url}

Press Ctrl-C to stop everything.
"""


def main() -> None:
    processes = Processes(ROOT / ".local" / "logs")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        azurite = processes.azurite(int(os.environ.get("AZURITE_TABLE_PORT", "10002")))
        upstreams = {name: processes.demo(name) for name in ("notes", "clock", "flaky")}
        processes.hub_over("hub", azurite, upstreams, {"MCPHUB_SERVER_FLAKY__TIMEOUT": "3", **AUTH_OFF}, HUB_PORT)
        sys.stdout.write(banner(f"http://127.0.0.1:{HUB_PORT}/mcp", str(processes.log_dir)))
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
