"""How each IDE is pointed at the hub: config snippets and one-click install links."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class InstallOptions:
    url: str
    cursor_json: str  # ~/.cursor/mcp.json
    vscode_json: str  # .vscode/mcp.json
    claude_command: str
    cursor_link: str
    vscode_link: str
    vscode_insiders_link: str


def install_options(url: str, name: str = "mcphub") -> InstallOptions:
    server = {"type": "http", "url": url}
    cursor_config = base64.b64encode(json.dumps({"url": url}).encode()).decode()
    vscode_config = quote(json.dumps({"name": name, **server}, separators=(",", ":")), safe="")
    return InstallOptions(
        url=url,
        cursor_json=json.dumps({"mcpServers": {name: {"url": url}}}, indent=2),
        vscode_json=json.dumps({"servers": {name: server}}, indent=2),
        claude_command=f"claude mcp add --transport http {name} {url}",
        cursor_link=f"cursor://anysphere.cursor-deeplink/mcp/install?name={quote(name)}&config={quote(cursor_config)}",
        vscode_link=f"vscode:mcp/install?{vscode_config}",
        vscode_insiders_link=f"vscode-insiders:mcp/install?{vscode_config}",
    )
