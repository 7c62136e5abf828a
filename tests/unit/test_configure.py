"""Natural-language configuration: needs in plain words → the right catalog servers with reasons →
settings the hub's own validator accepts, secrets never filled in; and advice from usage."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from infra.registry_catalog import OFFICIAL, build, listed
from shared.configure.advice import advice
from shared.configure.recommend import Recommender, bicep_for, catalog, recommendation, settings_for, validate
from shared.errors import ConfigError
from shared.settings import ServerSettings


def test_the_catalog_is_the_registrys_http_servers_and_every_entry_can_be_configured() -> None:
    entries = catalog()
    assert len(entries) >= 300
    assert len({e.key for e in entries}) == len(entries)
    assert all(e.url.startswith("https://") for e in entries)
    validate(settings_for(list(entries)))  # raises ConfigError naming the variable if not


def test_hub_names_are_short_and_grow_only_where_two_would_clash() -> None:
    keys = {e.registry_name: e.key for e in catalog()}
    assert keys["com.stripe/mcp"] == "stripe"  # nothing left of "mcp": the vendor's name
    assert keys["io.github.github/github-mcp-server"] == "github"
    assert keys["com.microsoft/microsoft-learn-mcp"] == "microsoft-learn"
    assert (keys["com.mintmcp/gmail"], keys["ai.waystation/gmail"]) == ("mintmcp-gmail", "waystation-gmail")
    assert (keys["dev.promplate/hmr"], keys["io.github.promplate/hmr"]) == (
        "dev-promplate-hmr",
        "io-github-promplate-hmr",
    )


def test_jira_and_github_needs_get_both_servers_with_their_reasons() -> None:
    found = Recommender().recommend("we track bugs in Jira and keep code on GitHub", 3)
    assert {"github", "jira"} <= {s.entry.key for s in found}
    jira = next(s for s in found if s.entry.key == "jira")
    assert "jira" in jira.reasons
    github = next(s for s in found if s.entry.key == "github")
    assert "github" in github.reasons  # one word, as written, not "git" and "hub"


def test_a_need_no_server_fits_is_said_so_and_gets_no_settings() -> None:
    found = recommendation(Recommender(), "order a pizza for the team", 3, frozenset())
    assert found["fits"] is False
    assert found["nothingFits"].startswith("No server in the catalog fits this need well")
    assert found["servers"]  # the closest, for reference
    assert not any(s["inSettings"] for s in found["servers"])
    assert found["settings"] == {}


def test_a_declared_secret_header_becomes_each_users_token_in_that_header() -> None:
    entries = {e.key: e for e in catalog()}
    env = settings_for([entries["github"], entries["newrelic"]])
    assert env["MCPHUB_SERVER_GITHUB__AUTH"] == "user_token"  # each user connects their own token
    assert "MCPHUB_SERVER_GITHUB__AUTH_HEADER" not in env  # Authorization: Bearer <token>
    assert env["MCPHUB_SERVER_NEWRELIC__AUTH_HEADER"] == "api-key"
    assert entries["newrelic"].credentials == "server.json"


def test_servers_that_declare_no_credentials_are_configured_from_what_is_known_or_said_undeclared() -> None:
    entries = {e.key: e for e in catalog()}
    env = settings_for([entries["linear"], entries["gitlab"]])
    assert env["MCPHUB_SERVER_LINEAR__AUTH"] == "user_oauth"
    assert "REPLACE-ME" in env["MCPHUB_SERVER_LINEAR__OAUTH_CLIENT_SECRET"]
    assert "MCPHUB_SERVER_GITLAB__AUTH" not in env
    assert (entries["linear"].credentials, entries["gitlab"].credentials) == ("known.json", "undeclared")
    bicep = bicep_for(env)
    assert "MCPHUB_SERVER_LINEAR__OAUTH_CLIENT_SECRET: '@Microsoft.KeyVault(" in bicep


def test_other_required_headers_are_left_for_the_operator_to_fill_in() -> None:
    entry = next(e for e in catalog() if e.registry_name == "com.predictleads/mcp")
    env = settings_for([entry])
    assert env["MCPHUB_SERVER_PREDICTLEADS__AUTH"] == "user_token"
    assert env["MCPHUB_SERVER_PREDICTLEADS__HEADERS__X_API_TOKEN"].startswith("REPLACE-ME")


def test_the_catalog_admits_only_the_latest_active_http_servers_outside_test_namespaces() -> None:
    def listed(name: str, remotes: list[str], *, latest: bool = True, status: str = "active") -> dict[str, Any]:
        server = {
            "name": name,
            "description": name,
            "version": "1",
            "remotes": [{"type": t, "url": "https://x.example/mcp"} for t in remotes],
        }
        return {"server": server, "_meta": {OFFICIAL: {"isLatest": latest, "status": status}}}

    dump = {
        "servers": [
            listed("com.a/http", ["sse", "streamable-http"]),
            listed("com.a/http", ["streamable-http"], latest=False),
            listed("com.b/sse-only", ["sse"]),
            listed("com.c/stdio-only", []),
            listed("com.d/deprecated", ["streamable-http"], status="deprecated"),
            listed("ai.alpic.test/x", ["streamable-http"]),
            listed("live.alpic.staging.y/z", ["streamable-http"]),
        ]
    }
    built = build(dump, "test")
    assert [s["name"] for s in built["servers"]] == ["com.a/http"]
    assert built["servers"][0]["remotes"][0]["type"] == "sse"  # the publisher's file, unchanged


def test_a_setting_the_hub_would_refuse_is_refused_here_too() -> None:
    with pytest.raises(ConfigError, match="MCPHUB_SERVER_BAD__AUTH"):
        validate({"MCPHUB_SERVER_BAD__URL": "https://x.example/mcp", "MCPHUB_SERVER_BAD__AUTH": "user_oauth"})


def server(name: str, timeout: float = 30.0) -> ServerSettings:
    return ServerSettings.model_validate({"name": name, "url": f"https://{name}.example/mcp", "timeout": timeout})


def test_usage_advice_names_unused_servers_tight_and_loose_timeouts() -> None:
    report = {
        "byServer": [
            {"key": "slow", "requests": 100, "errorRate": 0.0, "p99Ms": 9000.0, "outcomes": {"ok": 100}},
            {"key": "fast", "requests": 100, "errorRate": 0.1, "p99Ms": 50.0, "outcomes": {"ok": 90, "error": 10}},
        ],
        "topTools": [{"key": "slow/export", "p95Ms": 8000.0}],
    }
    given = advice(report, {"slow": server("slow", 10), "fast": server("fast", 60), "idle": server("idle")})
    kinds = {(a["server"], a["kind"]) for a in given}
    assert kinds == {
        ("idle", "unused"),
        ("slow", "timeout-tight"),
        ("fast", "timeout-loose"),
        ("fast", "failing"),
        ("slow", "slow-tool"),
    }
    assert any("MCPHUB_SERVER_SLOW__TIMEOUT" in a["advice"] for a in given)


class _Registry(BaseHTTPRequestHandler):
    """A registry in the shape modelcontextprotocol.io documents for `GET /v0.1/servers`: pages of
    at most 100, each naming the cursor of the next; a limit over 100 or a cursor it never issued
    is refused, as the official registry refuses them."""

    pages: ClassVar[list[list[dict[str, Any]]]] = []
    asked: ClassVar[list[dict[str, list[str]]]] = []

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        self.asked.append(query)
        cursors = [None, *(f"page-{n}" for n in range(1, len(self.pages)))]
        cursor = query.get("cursor", [None])[0]
        if url.path != "/v0.1/servers" or int(query.get("limit", ["30"])[0]) > 100 or cursor not in cursors:
            self.send_error(400 if url.path == "/v0.1/servers" else 404)
            return
        n = cursors.index(cursor)
        following = cursors[n + 1] if n + 1 < len(self.pages) else None
        body = json.dumps(
            {"servers": self.pages[n], "metadata": {"count": len(self.pages[n]), "nextCursor": following}}
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: Any) -> None:
        return


def test_a_registry_is_read_page_by_page_through_its_cursors() -> None:
    def entry(name: str) -> dict[str, Any]:
        remotes = [{"type": "streamable-http", "url": f"https://{name.split('/')[0]}.example/mcp"}]
        return {"server": {"name": name, "description": name, "version": "1", "remotes": remotes},
                "_meta": {OFFICIAL: {"isLatest": True, "status": "active"}}}  # fmt: skip

    _Registry.pages = [[entry(f"com.p{n}/s{m}") for m in range(3)] for n in range(3)]
    _Registry.asked = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with httpx.Client(timeout=10) as client:
            dump = listed(f"http://127.0.0.1:{server.server_port}/", client)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert [e["server"]["name"] for e in dump["servers"]] == [f"com.p{n}/s{m}" for n in range(3) for m in range(3)]
    assert [q.get("cursor") for q in _Registry.asked] == [None, ["page-1"], ["page-2"]]
    assert all(q["version"] == ["latest"] and q["limit"] == ["100"] for q in _Registry.asked)
    assert len(build(dump, "test")["servers"]) == 9
