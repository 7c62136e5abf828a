"""Two tenants of the local authority on one hub, named by alias: each tenant's operators and admins
see only their own tenant's usage, audit records and servers over the API, the hub-wide role sees
both (from the home tenant only), a limit set for one tenant holds for it alone, and every answer is
what the published document says. In Chromium, each tenant's admin signs in to the operator page
through the hub's facade and sees only their own tenant's part."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import httpx
import pytest
from mcp.shared.exceptions import MCPError
from playwright.async_api import Browser, Page, expect

from infra.processes import Child
from tests.e2e.chromium import chromium, fresh_page
from tests.e2e.clients import audit_items, client_for, signed_in_hub
from tests.operator_api import check_answer

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]
CONTOSO = "7a1c6e0e-3b52-4c1f-8f0e-0c6a1d2b3c4d"
FABRIKAM = "9d8e7f60-5a4b-4c3d-9e2f-1a0b9c8d7e6f"
CONTOSO_LIMIT = 40  # upstream requests a day, for all of contoso together (lists and calls count)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, storage_connection_string: str) -> Iterator[dict[str, Any]]:
    env = {
        "AzureWebJobsStorage": storage_connection_string,
        "MCPHUB_AUDIT_TABLE": "audittenantscope",
        "MCPHUB_USAGE_TABLE": "usagetenantscope",
        "MCPHUB_TENANT_CONTOSO__ID": CONTOSO,
        "MCPHUB_TENANT_CONTOSO__LABEL": "Contoso Ltd",
        "MCPHUB_TENANT_FABRIKAM__ID": FABRIKAM,
        "MCPHUB_SERVER_CLOCK__TENANTS": "fabrikam",
        "MCPHUB_LIMIT_CONTOSO__TENANT": "contoso",
        "MCPHUB_LIMIT_CONTOSO__PER": "tenant",
        "MCPHUB_LIMIT_CONTOSO__REQUESTS": str(CONTOSO_LIMIT),
        "MCPHUB_LIMIT_CONTOSO__SECONDS": "86400",
    }
    with signed_in_hub(
        Path(tmp_path_factory.mktemp("tenants")),
        "hub-tenants",
        env,
        tenants=("contoso", "fabrikam"),
        facade=True,
        upstreams=("notes", "clock"),
    ) as w:
        mint = w["authority"].mint
        w["tokens"] = {
            "contoso-admin": mint(tenant=CONTOSO, user="c-admin", roles=("Hub.Admin",)),
            "contoso-operator": mint(tenant=CONTOSO, user="c-operator", roles=("Hub.Operator",)),
            "fabrikam-admin": mint(tenant=FABRIKAM, user="f-admin", roles=("Hub.Admin",)),
            # Fabrikam's own admin can assign the hub's app roles in Fabrikam: the role alone is not enough.
            "fabrikam-claims-all": mint(tenant=FABRIKAM, user="f-boss", roles=("Hub.Admin", "Hub.AllTenants")),
            "hub-admin": mint(tenant=CONTOSO, user="h-admin", roles=("Hub.Admin", "Hub.AllTenants")),
            "alice": mint(tenant=CONTOSO, user="alice"),
            "bob": mint(tenant=CONTOSO, user="bob"),
            "carol": mint(tenant=FABRIKAM, user="carol"),
        }
        yield w


async def get(hub: Child, path: str, token: str, **params: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.get(f"{hub.url}{path}", params=params, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture(scope="module")
async def calls_made(world: dict[str, Any]) -> dict[str, Any]:
    """Contoso makes 2 + 1 calls of notes, Fabrikam 2 of notes and 3 of clock; then Contoso spends
    its tenant budget, which Fabrikam does not share."""
    url, tokens = f"{world['hub'].url}/mcp", world["tokens"]
    async with client_for(url, tokens["alice"]) as alice:
        for n in range(2):
            await alice.call_tool("notes__echo", {"text": f"alice {n}"})
        listed = {tool.name for tool in (await alice.list_tools()).tools}
    async with client_for(url, tokens["bob"]) as bob:
        await bob.call_tool("notes__echo", {"text": "bob"})
    async with client_for(url, tokens["carol"]) as carol:
        for n in range(2):
            await carol.call_tool("notes__echo", {"text": f"carol {n}"})
        for _ in range(3):
            await carol.call_tool("clock__now", {})
        carol_listed = {tool.name for tool in (await carol.list_tools()).tools}
    world["listed"] = {"alice": listed, "carol": carol_listed}
    await audit_items(world["hub"].url, tokens["hub-admin"], "tool.call", tenant=FABRIKAM)
    return world


def users(report: dict[str, Any]) -> set[str]:
    return {row["key"] for row in report["byUser"]}


async def wait_for_usage(hub: Child, token: str, requests: int) -> dict[str, Any]:
    """The usage report once it counts `requests` (aggregates are flushed on every read)."""
    with anyio.fail_after(20):
        while True:
            body = (await get(hub, "/ops/usage", token)).json()
            if body["totals"]["requests"] >= requests:
                return body
            await anyio.sleep(0.2)


async def test_each_tenants_operator_sees_whoami_scope_and_only_their_tenants_usage(calls_made: dict[str, Any]) -> None:
    hub, tokens = calls_made["hub"], calls_made["tokens"]
    me = (await get(hub, "/ops/whoami", tokens["contoso-operator"])).json()
    assert me["scope"] == {"kind": "tenant", "tenant": CONTOSO, "label": "Contoso Ltd"}
    assert (await get(hub, "/ops/whoami", tokens["hub-admin"])).json()["scope"]["kind"] == "hub"
    assert (await get(hub, "/ops/whoami", tokens["fabrikam-claims-all"])).json()["scope"]["tenant"] == FABRIKAM

    whole = await wait_for_usage(hub, tokens["hub-admin"], 8)
    contoso = (await get(hub, "/ops/usage", tokens["contoso-operator"])).json()
    fabrikam = (await get(hub, "/ops/usage", tokens["fabrikam-claims-all"])).json()
    calls = {r["key"]: r["requests"] for r in contoso["topTools"]}
    assert calls == {"notes/echo": 3}
    assert {r["key"]: r["requests"] for r in fabrikam["topTools"]} == {"notes/echo": 2, "clock/now": 3}
    assert users(contoso) == {f"{CONTOSO}:alice", f"{CONTOSO}:bob"}
    assert users(fabrikam) == {f"{FABRIKAM}:carol"}
    assert users(whole) == users(contoso) | users(fabrikam)
    assert whole["activeTenants"] == 2
    assert contoso["activeTenants"] == 1
    # Exact: the two tenants' parts add up to the whole, request for request and per server.
    assert contoso["totals"]["requests"] + fabrikam["totals"]["requests"] == whole["totals"]["requests"]
    for server in ("notes", "clock"):
        part = [{r["key"]: r["requests"] for r in t["byServer"]}.get(server, 0) for t in (contoso, fabrikam)]
        assert sum(part) == {r["key"]: r["requests"] for r in whole["byServer"]}[server]


async def test_a_tenant_sees_only_the_servers_open_to_it_in_lists_and_on_the_operator_api(
    calls_made: dict[str, Any],
) -> None:
    hub, tokens = calls_made["hub"], calls_made["tokens"]
    assert not any(name.startswith("clock__") for name in calls_made["listed"]["alice"])
    assert "clock__now" in calls_made["listed"]["carol"]
    contoso = (await get(hub, "/ops/servers", tokens["contoso-operator"])).json()
    assert [s["name"] for s in contoso["servers"]] == ["notes"]
    fabrikam = (await get(hub, "/ops/servers", tokens["fabrikam-admin"])).json()
    assert [s["name"] for s in fabrikam["servers"]] == ["clock", "notes"]
    whole = (await get(hub, "/ops/servers", tokens["hub-admin"])).json()
    notes = [{s["name"]: s["requestsLastHour"] for s in t["servers"]}["notes"] for t in (contoso, fabrikam, whole)]
    assert notes[0] > 0
    assert notes[1] > 0
    assert notes[0] + notes[1] == notes[2]
    config = (await get(hub, "/ops/config", tokens["contoso-operator"])).json()
    assert set(config["servers"]) == {"notes"}
    assert set(config["tenants"]) == {"contoso"}
    assert config["auth"]["tenants"] == [CONTOSO]
    assert [rule["name"] for rule in config["limits"]] == ["contoso"]
    assert (await get(hub, "/ops/config", tokens["fabrikam-admin"])).json()["limits"] == []
    configured = (await get(hub, "/ops/config", tokens["hub-admin"])).json()
    assert set(configured["tenants"]) == {"contoso", "fabrikam"}
    assert configured["tenants"]["contoso"]["id"] == CONTOSO


async def test_each_tenants_admin_reads_and_exports_only_their_tenants_audit_records(
    calls_made: dict[str, Any],
) -> None:
    hub, tokens = calls_made["hub"], calls_made["tokens"]
    mine = (await get(hub, "/ops/audit", tokens["contoso-admin"], event="tool.call")).json()["items"]
    assert {i["user"] for i in mine} == {f"{CONTOSO}:alice", f"{CONTOSO}:bob"}
    theirs = (await get(hub, "/ops/audit", tokens["fabrikam-claims-all"], event="tool.call")).json()["items"]
    assert {i["user"] for i in theirs} == {f"{FABRIKAM}:carol"}
    everyone = (await get(hub, "/ops/audit", tokens["hub-admin"], event="tool.call", limit="1000")).json()["items"]
    assert {i["tenant"] for i in everyone} == {CONTOSO, FABRIKAM}
    # Asking for the other tenant is refused (not answered with an empty page that looks like "nothing").
    other = await get(hub, "/ops/audit", tokens["contoso-admin"], tenant="fabrikam")
    assert other.status_code == 403
    assert "Contoso Ltd" in other.json()["error"]
    assert (await get(hub, "/ops/audit", tokens["contoso-admin"], user=f"{FABRIKAM}:carol")).json()["items"] == []
    by_alias = (await get(hub, "/ops/audit", tokens["hub-admin"], tenant="fabrikam", event="tool.call")).json()
    assert {i["user"] for i in by_alias["items"]} == {f"{FABRIKAM}:carol"}
    exported = await get(hub, "/ops/audit/export", tokens["fabrikam-admin"], format="jsonl")
    assert exported.status_code == 200
    assert {json.loads(line)["tenant"] for line in exported.text.splitlines()} == {FABRIKAM}
    refused = await get(hub, "/ops/audit/export", tokens["fabrikam-admin"], format="csv", tenant=CONTOSO)
    assert refused.status_code == 403


async def test_an_admin_of_one_tenant_verifies_the_whole_chain_and_counts_their_own_records(
    calls_made: dict[str, Any],
) -> None:
    hub, tokens = calls_made["hub"], calls_made["tokens"]
    whole = (await get(hub, "/ops/audit/verify", tokens["hub-admin"])).json()
    fabrikam = (await get(hub, "/ops/audit/verify", tokens["fabrikam-admin"])).json()
    assert whole["intact"]
    assert fabrikam["intact"]
    assert whole["tenant"] is None
    assert fabrikam["tenant"] == FABRIKAM
    assert fabrikam["partitions"] == whole["partitions"]
    exported = await get(hub, "/ops/audit/export", tokens["fabrikam-admin"], format="jsonl")
    assert fabrikam["rows"] > 0
    assert abs(fabrikam["rows"] - len(exported.text.splitlines())) <= 2  # records written between the two reads
    assert fabrikam["rows"] < whole["rows"]


async def test_the_forecast_of_the_whole_hub_is_for_hub_wide_operators_only(calls_made: dict[str, Any]) -> None:
    hub, tokens = calls_made["hub"], calls_made["tokens"]
    assert (await get(hub, "/ops/forecast", tokens["contoso-operator"])).status_code == 404
    assert (await get(hub, "/ops/forecast", tokens["fabrikam-claims-all"])).status_code == 404
    assert (await get(hub, "/ops/forecast", tokens["hub-admin"])).status_code == 200
    assert (await get(hub, "/ops/scaling", tokens["contoso-operator"])).status_code == 404
    assert (await get(hub, "/ops/scaling", tokens["hub-admin"])).status_code == 200


async def test_a_limit_set_for_one_tenant_is_shared_by_its_users_and_not_by_the_other_tenant(
    calls_made: dict[str, Any],
) -> None:
    url, tokens = f"{calls_made['hub'].url}/mcp", calls_made["tokens"]
    refused: MCPError | None = None
    async with client_for(url, tokens["bob"]) as bob:
        for n in range(CONTOSO_LIMIT):
            try:
                await bob.call_tool("notes__echo", {"text": f"spend {n}"})
            except MCPError as error:
                refused = error
                break
    assert refused is not None, "contoso's budget was never spent"
    assert "rate limit 'contoso' reached" in refused.error.message
    async with client_for(url, tokens["carol"]) as carol:
        for n in range(CONTOSO_LIMIT + 1):
            await carol.call_tool("notes__echo", {"text": f"free {n}"})


async def test_every_scoped_answer_is_what_the_published_document_says(calls_made: dict[str, Any]) -> None:
    hub, tokens = calls_made["hub"], calls_made["tokens"]
    doc = (await get(hub, "/ops/openapi.json", tokens["contoso-operator"])).json()
    for path, params in (
        ("/ops/whoami", {}),
        ("/ops/servers", {}),
        ("/ops/config", {}),
        ("/ops/usage", {}),
        ("/ops/advice", {}),
        ("/ops/audit", {"event": "tool.call"}),
        ("/ops/audit/verify", {}),
    ):
        reply = await get(hub, path, tokens["contoso-admin"], **params)
        assert reply.status_code == 200, (path, reply.text)
        check_answer(doc, "GET", path, 200, reply.json())
    refused = await get(hub, "/ops/audit", tokens["contoso-admin"], tenant=FABRIKAM)
    check_answer(doc, "GET", "/ops/audit", 403, refused.json())
    hidden = await get(hub, "/ops/forecast", tokens["contoso-admin"])
    check_answer(doc, "GET", "/ops/forecast", 404, hidden.json())


@pytest.fixture(scope="module")
async def browser(calls_made: dict[str, Any]) -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    async with fresh_page(browser) as opened:
        yield opened


async def open_as(page: Page, hub: Child, hint: str, name: str) -> str:
    """The operator page `name` for the account `hint` (<oid>@<tid>#<roles>), signed in through the facade."""
    await page.goto(f"{hub.url}/operator?login_hint={quote(hint)}#{name}")
    await page.wait_for_selector(f"body[data-page='{name}']", timeout=20_000)
    return await page.inner_text("main")


async def test_in_chromium_a_tenants_admin_sees_their_own_usage_servers_and_audit_records(
    calls_made: dict[str, Any], page: Page
) -> None:
    hub = calls_made["hub"]
    contoso = f"c-page@{CONTOSO}#Hub.Admin"
    assert "You see tenant Contoso Ltd only" in await open_as(page, hub, contoso, "overview")
    assert "tenant Contoso Ltd" in await page.inner_text("#who")
    usage = await open_as(page, hub, contoso, "usage")
    assert f"{CONTOSO}:alice" in usage
    assert FABRIKAM not in usage
    assert "clock/now" not in usage
    servers = await open_as(page, hub, contoso, "servers")
    assert "notes" in servers
    assert "clock" not in servers
    await open_as(page, hub, contoso, "audit")
    await page.wait_for_selector("table tbody tr td", timeout=20_000)
    assert FABRIKAM not in await page.inner_text("tbody")
    assert f"{CONTOSO}:alice" in await page.inner_text("tbody")
    await page.get_by_role("button", name="Verify hash chains").click()
    intact = re.compile(r"^Intact: \d+ of Contoso Ltd's records \(the chains were checked whole\)")
    await expect(page.locator("#status")).to_have_text(intact)
    regions = await open_as(page, hub, contoso, "regions")
    assert "for operators who see every tenant" in regions


async def test_in_chromium_the_other_tenants_admin_sees_theirs_and_finds_none_of_the_first(
    calls_made: dict[str, Any], page: Page
) -> None:
    hub = calls_made["hub"]
    fabrikam = f"f-page@{FABRIKAM}#Hub.Admin"
    usage = await open_as(page, hub, fabrikam, "usage")
    assert f"{FABRIKAM}:carol" in usage
    assert "clock/now" in usage
    assert CONTOSO not in usage
    await open_as(page, hub, fabrikam, "audit")
    await page.get_by_label("User").fill(f"{CONTOSO}:alice")
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator("#status")).to_have_text("No records match.")


async def test_in_chromium_the_hub_wide_admin_sees_every_tenant(calls_made: dict[str, Any], page: Page) -> None:
    hub = calls_made["hub"]
    usage = await open_as(page, hub, f"h-page@{CONTOSO}#Hub.Admin,Hub.AllTenants", "usage")
    assert "Calls of every tenant." in usage
    assert f"{CONTOSO}:alice" in usage
    assert f"{FABRIKAM}:carol" in usage
