"""Rebuild the recommender's catalog (`shared/configure/registry.json`) from an MCP registry:
`python -m infra.registry_catalog FROM [SOURCE]`.

FROM is a registry's base URL (the official https://registry.modelcontextprotocol.io, or a
company's own registry speaking the same API), read page by page through `GET /v0.1/servers`; or a
file holding that list's pages joined (`{"servers": [{"server": <server.json>, "_meta": {...}}]}`).
SOURCE says where it came from, in the catalog (default: FROM). Each publisher's `server.json` is
kept as published; only which servers enter is decided here:
- the latest active version of each name;
- with a `streamable-http` remote: the hub fronts HTTP servers, so a package that only runs over
  stdio would need hosting first and is left out (as are SSE-only remotes);
- not a publisher's test or staging namespace (`ai.alpic.test`, `live.alpic.staging...`).

The catalog shipped was built from the registry as mirrored by github.com/TeamSparkAI/mcp-registry
(`validation/server-registry.json`, commit 1f6e2b6, 2025-12-02; MIT licence, the text is in
`shared/configure/REGISTRY-LICENSE`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, cast

import httpx

OUT = Path(__file__).resolve().parent.parent / "shared" / "configure" / "registry.json"
OFFICIAL = "io.modelcontextprotocol.registry/official"
_NOT_PUBLIC = frozenset(["test", "staging"])
PAGE = 100  # the registry's largest page
MAX_PAGES = 1000


def admitted(entry: dict[str, Any]) -> bool:
    server = cast(dict[str, Any], entry["server"])
    official = cast(dict[str, Any], entry.get("_meta", {}).get(OFFICIAL, {}))
    if not official.get("isLatest") or official.get("status", "active") != "active":
        return False
    if _NOT_PUBLIC & set(str(server["name"]).split("/")[0].split(".")):
        return False
    return any(remote.get("type") == "streamable-http" for remote in server.get("remotes") or [])


def build(dump: dict[str, Any], source: str) -> dict[str, Any]:
    entries = cast(list[dict[str, Any]], dump["servers"])
    servers = sorted((e["server"] for e in entries if admitted(e)), key=lambda s: str(s["name"]))
    names = [s["name"] for s in servers]
    if len(names) != len(set(names)):
        raise SystemExit("the dump lists a name twice as its latest version")
    return {
        "source": source,
        "admitted": "the latest active version of each server with a streamable-http remote, "
        "not in a test or staging namespace (infra/registry_catalog.py)",
        "servers": servers,
    }


def listed(base: str, client: httpx.Client) -> dict[str, Any]:
    """Every latest server version a registry lists, following its cursors (pages joined)."""
    servers: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        params = {"limit": str(PAGE), "version": "latest", **({"cursor": cursor} if cursor else {})}
        reply = client.get(f"{base.rstrip('/')}/v0.1/servers", params=params)
        reply.raise_for_status()
        page = cast(dict[str, Any], reply.json())
        servers += cast(list[dict[str, Any]], page["servers"])
        cursor = cast(dict[str, Any], page.get("metadata") or {}).get("nextCursor")
        if not cursor:
            return {"servers": servers}
    raise SystemExit(f"{base}: still more after {MAX_PAGES} pages of {PAGE}")


def main(argv: list[str]) -> None:
    if not argv:
        raise SystemExit(__doc__)
    if argv[0].startswith(("https://", "http://")):
        with httpx.Client(timeout=30, follow_redirects=True) as client:
            dump = listed(argv[0], client)
    else:
        dump = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    catalog = build(dump, argv[1] if len(argv) > 1 else argv[0])
    OUT.write_text(json.dumps(catalog, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    sys.stdout.write(f"{len(catalog['servers'])} servers of {len(dump['servers'])} listed → {OUT}\n")


if __name__ == "__main__":
    main(sys.argv[1:])
