"""The operator's view over HTTP, from calls made by real MCP SDK clients: the audit trail (search,
paging, CSV/JSONL export, chain verification) for Hub.Admin only."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra.processes import Child
from tests.e2e.clients import client_for, signed_in_hub
from tests.operator_api import check_answer, validate_document

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, storage_connection_string: str) -> Iterator[dict[str, Any]]:
    env = {
        "AzureWebJobsStorage": storage_connection_string,
        "MCPHUB_AUDIT_TABLE": "auditoperatorapi",
        "MCPHUB_USAGE_TABLE": "usageoperatorapi",
        "MCPHUB_SERVER_NOTES__AUDIT_CAPTURE": "true",
    }
    with signed_in_hub(
        Path(tmp_path_factory.mktemp("operator")), "hub-operator", env, upstreams=("notes", "clock")
    ) as w:
        authority = w["authority"]
        w["admin"] = authority.mint(tenant="tenant-a", user="admin-1", roles=("Hub.Admin",))
        w["operator"] = authority.mint(tenant="tenant-a", user="operator-1", roles=("Hub.Operator",))
        w["user"] = authority.mint(tenant="tenant-a", user="dana")
        yield w


async def get(hub: Child, path: str, token: str | None, **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.get(f"{hub.url}{path}", params=params, headers=headers)


@pytest.fixture(scope="module")
async def calls_made(world: dict[str, Any]) -> dict[str, Any]:
    async with client_for(f"{world['hub'].url}/mcp", world["user"]) as client:
        for n in range(3):
            await client.call_tool("notes__echo", {"text": f"hello {n}", "token": "ghp_abcdefghijklmnopqrstuvwxyz"})
        await client.call_tool("clock__now", {})
    await get(world["hub"], "/mcp", "not-a-token")
    return world


async def test_an_admin_finds_each_tool_call_with_who_what_outcome_and_latency(calls_made: dict[str, Any]) -> None:
    reply = await get(calls_made["hub"], "/ops/audit", calls_made["admin"], event="tool.call", user="tenant-a:dana")
    assert reply.status_code == 200, reply.text
    items = reply.json()["items"]
    assert sorted(i["tool"] for i in items) == ["echo", "echo", "echo", "now"]
    for item in items:
        assert item["outcome"] == "ok"
        assert item["tenant"] == "tenant-a"
        assert item["latencyMs"] > 0
    echo = next(i for i in items if i["server"] == "notes")
    assert echo["detail"]["arguments"]["token"] == "[redacted]"
    assert echo["detail"]["arguments"]["text"].startswith("hello")
    now = next(i for i in items if i["server"] == "clock")
    assert "arguments" not in now["detail"]  # capture is on for notes only


async def test_refused_tokens_are_in_the_trail(calls_made: dict[str, Any]) -> None:
    reply = await get(calls_made["hub"], "/ops/audit", calls_made["admin"], event="token.refused")
    assert reply.json()["items"]


async def test_pages_follow_the_cursor_without_gaps_or_repeats(calls_made: dict[str, Any]) -> None:
    seen: list[str] = []
    cursor = ""
    for _ in range(10):
        params = {"event": "tool.call", "limit": "3", **({"cursor": cursor} if cursor else {})}
        body = (await get(calls_made["hub"], "/ops/audit", calls_made["admin"], **params)).json()
        seen += [i["id"] for i in body["items"]]
        cursor = body["next"] or ""
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 4


async def test_exports_as_csv_and_jsonl_hold_the_same_records(calls_made: dict[str, Any]) -> None:
    hub, admin = calls_made["hub"], calls_made["admin"]
    as_csv = await get(hub, "/ops/audit/export", admin, format="csv", event="tool.call")
    as_jsonl = await get(hub, "/ops/audit/export", admin, format="jsonl", event="tool.call")
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in as_csv.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    lines = [json.loads(line) for line in as_jsonl.text.splitlines()]
    assert sorted(r["id"] for r in rows) == sorted(line["id"] for line in lines)
    assert len(rows) == 4


async def test_the_chains_verify_intact(calls_made: dict[str, Any]) -> None:
    body = (await get(calls_made["hub"], "/ops/audit/verify", calls_made["admin"])).json()
    assert body["intact"], body["findings"]
    assert body["rows"] >= 5


@pytest.mark.parametrize(("who", "status"), [("user", 404), ("operator", 404), (None, 401)])
async def test_only_an_admin_may_read_the_trail(calls_made: dict[str, Any], who: str | None, status: int) -> None:
    reply = await get(calls_made["hub"], "/ops/audit", calls_made[who] if who else None)
    assert reply.status_code == status
    if status == 401:
        assert "resource_metadata" in reply.headers["www-authenticate"]


async def test_a_bad_query_gets_a_400_that_says_what_to_fix(calls_made: dict[str, Any]) -> None:
    reply = await get(calls_made["hub"], "/ops/audit", calls_made["admin"], since="yesterday")
    assert reply.status_code == 400
    assert "unknown parameter(s) since" in reply.json()["error"]
    reply = await get(calls_made["hub"], "/ops/audit", calls_made["admin"], **{"from": "last tuesday"})
    assert "ISO 8601" in reply.json()["error"]


async def test_an_operator_sees_usage_by_server_tool_and_user(calls_made: dict[str, Any]) -> None:
    reply = await get(calls_made["hub"], "/ops/usage", calls_made["operator"])
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert {s["key"]: s["requests"] for s in body["byServer"]} == {"notes": 3, "clock": 1}
    assert body["topTools"][0] == {**body["topTools"][0], "key": "notes/echo", "requests": 3}
    assert [u["key"] for u in body["byUser"]] == ["tenant-a:dana"]
    assert body["totals"]["p95Ms"] > 0
    assert body["activeSessions"] == 1
    assert (await get(calls_made["hub"], "/ops/usage", calls_made["user"])).status_code == 404


async def test_live_sessions_count_open_sessions_and_not_closed_ones(calls_made: dict[str, Any]) -> None:
    hub, operator = calls_made["hub"], calls_made["operator"]
    before = (await get(hub, "/ops/usage", operator)).json()["liveSessions"]
    async with client_for(f"{hub.url}/mcp", calls_made["user"]) as client:
        await client.list_tools()
        assert (await get(hub, "/ops/usage", operator)).json()["liveSessions"] == before + 1
    assert (await get(hub, "/ops/usage", operator)).json()["liveSessions"] == before


async def test_an_operator_gets_servers_and_settings_for_needs_in_plain_words(calls_made: dict[str, Any]) -> None:
    hub, operator = calls_made["hub"], calls_made["operator"]
    reply = await get(hub, "/ops/recommend", operator, need="we track bugs in Jira and keep code on GitHub", k="3")
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert {s["name"] for s in body["servers"][:2]} == {"github", "jira"}
    assert body["settings"]["MCPHUB_SERVER_GITHUB__URL"] == "https://api.githubcopilot.com/mcp/"
    assert body["settings"]["MCPHUB_SERVER_GITHUB__AUTH"] == "user_token"  # declared in its server.json
    assert next(s for s in body["servers"] if s["name"] == "jira")["credentials"] == "undeclared"
    oauth = (await get(hub, "/ops/recommend", operator, need="product managers plan work in Linear", k="1")).json()
    assert "MCPHUB_SERVER_LINEAR__OAUTH_CLIENT_SECRET" in oauth["placeholders"]
    assert (await get(hub, "/ops/recommend", operator)).status_code == 400
    assert (await get(hub, "/ops/recommend", calls_made["user"], need="x")).status_code == 404


async def test_usage_advice_names_what_the_week_showed(calls_made: dict[str, Any]) -> None:
    body = (await get(calls_made["hub"], "/ops/advice", calls_made["operator"])).json()
    # notes answers in milliseconds against the default 30 s timeout
    assert ("notes", "timeout-loose") in {(a["server"], a["kind"]) for a in body["advice"]}
    assert "period" in body


async def test_every_answer_of_the_operator_api_is_what_its_published_document_says(calls_made: dict[str, Any]) -> None:
    hub, admin, user = calls_made["hub"], calls_made["admin"], calls_made["user"]
    reply = await get(hub, "/ops/openapi.json", calls_made["operator"])
    assert reply.status_code == 200, reply.text
    doc = reply.json()
    validate_document(doc)
    assert doc["servers"] == [{"url": hub.url}]
    asked = {
        "/ops/openapi.json": {},
        "/ops/whoami": {},
        "/ops/servers": {},
        "/ops/config": {},
        "/ops/usage": {},
        "/ops/advice": {},
        "/ops/audit": {"event": "tool.call", "limit": "2"},
        "/ops/audit/verify": {},
        "/ops/recommend": {"need": "we track bugs in Jira", "k": "2"},
        "/ops/workflow": {"goal": "echo hello then tell the time"},
        "/ops/forecast": {},
        "/ops/scaling": {},
        "/routing": {},
    }
    assert set(asked) | {"/ops/audit/export"} == {p for p in doc["paths"] if p.startswith("/ops/") or p == "/routing"}
    for path, params in asked.items():
        reply = await get(hub, path, admin, **params)
        assert reply.status_code == 200, (path, reply.text)
        check_answer(doc, "GET", path, 200, reply.json())
        for status, token in ((401, None), (404, user)):
            refused = await get(hub, path, token, **params)
            assert refused.status_code == status, path
            check_answer(doc, "GET", path, status, refused.json())
    exported = await get(hub, "/ops/audit/export", admin, format="jsonl", event="tool.call")
    for line in exported.text.splitlines():
        check_answer(doc, "GET", "/ops/audit/export", 200, json.loads(line), "application/x-ndjson")
    for path, bad in (("/ops/usage", {"from": "soon"}), ("/ops/recommend", {}), ("/ops/forecast", {"region": "x y"})):
        refused = await get(hub, path, admin, **bad)
        assert refused.status_code == 400, path
        check_answer(doc, "GET", path, 400, refused.json())
