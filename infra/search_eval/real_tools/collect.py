"""Collect real MCP servers' tool lists for the search evaluation (run by hand; the output is committed).

    python -m infra.search_eval.real_tools.collect [--only NAME ...]

Installs each pinned package (npm or PyPI) into a scratch folder, starts it over stdio with
placeholder credentials (nothing it lists depends on them), lists its tools with the official
MCP SDK client, and writes `tools.json` beside this file: package, version, licence and every
tool's name, description and input schema, as the server sent them.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from infra.processes import NODE

OUT = Path(__file__).parent / "tools.json"
DUMMY = "placeholder-not-a-secret"


@dataclass(frozen=True)
class Package:
    registry: str  # "npm" or "pypi"
    name: str
    version: str
    license: str
    entry: str = ""  # npm: the package's bin path; pypi: the module run with -m
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict[str, str])

    @property
    def key(self) -> str:
        """The server's short name in tools.json and the queries (github, playwright, ...)."""
        last = self.name.rsplit("/", 1)[-1]
        if last == "mcp":
            return self.name.split("/")[0].lstrip("@")  # @playwright/mcp
        for prefix, suffix in (("server-", ""), ("mcp-server-", ""), ("", "-mcp-server"), ("", "-mcp")):
            if last.startswith(prefix) and last.endswith(suffix) and (prefix or suffix):
                return last.removeprefix(prefix).removesuffix(suffix)
        return last


# Not collected: @modelcontextprotocol/server-gitlab 2025.4.25 and mcp-server-sqlite 2025.4.25 exit
# before answering initialize here; @modelcontextprotocol/server-puppeteer 2025.5.12 does not install
# (it downloads Chromium while installing).
PACKAGES = [
    Package("npm", "@modelcontextprotocol/server-filesystem", "2026.8.31", "MIT", "dist/index.js", ("{scratch}",)),
    Package("npm", "@modelcontextprotocol/server-memory", "2026.8.31", "MIT", "dist/index.js"),
    Package("npm", "@modelcontextprotocol/server-sequential-thinking", "2026.8.31", "MIT", "dist/index.js"),
    Package("npm", "@modelcontextprotocol/server-everything", "2026.8.31", "MIT", "dist/index.js", ("stdio",)),
    Package(
        "npm",
        "@modelcontextprotocol/server-github",
        "2025.4.8",
        "MIT",
        "dist/index.js",
        env={"GITHUB_PERSONAL_ACCESS_TOKEN": DUMMY},
    ),
    Package(
        "npm",
        "@modelcontextprotocol/server-slack",
        "2025.4.25",
        "MIT",
        "dist/index.js",
        env={"SLACK_BOT_TOKEN": DUMMY, "SLACK_TEAM_ID": "T0"},
    ),
    Package(
        "npm",
        "@modelcontextprotocol/server-brave-search",
        "0.6.2",
        "MIT",
        "dist/index.js",
        env={"BRAVE_API_KEY": DUMMY},
    ),
    Package(
        "npm",
        "@modelcontextprotocol/server-google-maps",
        "0.6.2",
        "MIT",
        "dist/index.js",
        env={"GOOGLE_MAPS_API_KEY": DUMMY},
    ),
    Package(
        "npm",
        "@modelcontextprotocol/server-postgres",
        "0.6.2",
        "MIT",
        "dist/index.js",
        ("postgresql://127.0.0.1:9/none",),
    ),
    Package(
        "npm",
        "@modelcontextprotocol/server-aws-kb-retrieval",
        "0.6.2",
        "MIT",
        "dist/index.js",
        env={"AWS_ACCESS_KEY_ID": DUMMY, "AWS_SECRET_ACCESS_KEY": DUMMY, "AWS_REGION": "us-east-1"},
    ),
    Package(
        "npm",
        "@modelcontextprotocol/server-everart",
        "0.6.2",
        "MIT",
        "dist/index.js",
        env={"EVERART_API_KEY": DUMMY},
    ),
    Package("npm", "@playwright/mcp", "0.0.83", "Apache-2.0", "cli.js"),
    Package(
        "npm",
        "@notionhq/notion-mcp-server",
        "2.5.2",
        "MIT",
        "bin/cli.mjs",
        env={"NOTION_TOKEN": DUMMY},
    ),
    Package("npm", "@upstash/context7-mcp", "4.1.1", "MIT", "dist/index.js"),
    Package("npm", "firecrawl-mcp", "3.26.0", "MIT", "dist/index.js", env={"FIRECRAWL_API_KEY": DUMMY}),
    Package("npm", "tavily-mcp", "0.2.22", "MIT", "build/index.js", env={"TAVILY_API_KEY": DUMMY}),
    Package("pypi", "mcp-server-fetch", "2026.10.24", "MIT", "mcp_server_fetch"),
    Package("pypi", "mcp-server-git", "2026.10.19", "MIT", "mcp_server_git", ("--repository", "{scratch}")),
    Package("pypi", "mcp-server-time", "2026.10.19", "MIT", "mcp_server_time", ("--local-timezone", "UTC")),
]


def install(package: Package, scratch: Path) -> StdioServerParameters:
    args = [a.replace("{scratch}", str(scratch)) for a in package.args]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(scratch), **package.env}
    if package.registry == "npm":
        command = ["npm", "install", "--prefix", str(scratch), "--no-audit", "--no-fund", "--loglevel=error"]
        subprocess.run([*command, f"{package.name}@{package.version}"], check=True, capture_output=True)
        entry = scratch / "node_modules" / package.name / package.entry
        return StdioServerParameters(command=str(NODE), args=[str(entry), *args], env=env)
    venv = scratch / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, f"{package.name}=={package.version}"], check=True, capture_output=True)
    return StdioServerParameters(command=str(venv / "bin" / "python"), args=["-m", package.entry, *args], env=env)


async def tools_of(server: StdioServerParameters) -> list[dict[str, Any]]:
    with anyio.fail_after(120):
        async with Client(server, mode="legacy") as client:
            listed = await client.list_tools()
    return [
        tool.model_dump(mode="json", by_alias=True, include={"name", "description", "input_schema"})
        for tool in listed.tools
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", help="package keys to (re)collect; the rest is kept")
    args = parser.parse_args(argv)
    collected: dict[str, Any] = json.loads(OUT.read_text()) if OUT.exists() else {}
    failed: list[str] = []
    for package in PACKAGES:
        if args.only and package.key not in args.only:
            continue
        scratch = Path(tempfile.mkdtemp(prefix=f"mcp-{package.key}-"))
        try:
            if package.name.endswith("server-git"):
                subprocess.run(["git", "init", "-q", str(scratch)], check=True)
            server = install(package, scratch)
            tools = anyio.run(tools_of, server)
        except Exception as error:
            failed.append(f"{package.name}: {type(error).__name__}: {str(error)[:200]}")
            continue
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        collected[package.key] = {
            "package": package.name,
            "version": package.version,
            "registry": package.registry,
            "license": package.license,
            "tools": tools,
        }
        print(f"{package.name}@{package.version}: {len(tools)} tools")  # noqa: T201 - progress
    OUT.write_text(json.dumps(collected, indent=1, ensure_ascii=False) + "\n")
    total = sum(len(entry["tools"]) for entry in collected.values())
    print(f"{len(collected)} servers, {total} tools in {OUT}")  # noqa: T201
    for line in failed:
        print(f"  failed: {line}")  # noqa: T201
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
