"""The operator page and the connect page in a real browser (Debian's Chromium driven by
Playwright): sign-in through the hub's facade, every page shows what it should, secrets stay
masked, and the pages keep to basic accessibility. A screenshot of each page is kept in
`.artifacts/screenshots/` (MCPHUB_TEST_ARTIFACTS)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import pytest
from playwright.async_api import Browser, Page, expect

from infra.processes import ROOT
from tests.e2e.chromium import chromium, fresh_page, require_chromium
from tests.e2e.clients import client_for, signed_in_hub
from tests.operator_api import validate_document

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]
SECRET = "page-secret-value-123"
ARTIFACTS = Path(os.environ.get("MCPHUB_TEST_ARTIFACTS", ROOT / ".artifacts")) / "screenshots"
ADMIN_HINT = "operator-1@tenant-a#Hub.User,Hub.Admin"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, storage_connection_string: str) -> Iterator[dict[str, Any]]:
    require_chromium()
    env = {
        "AzureWebJobsStorage": storage_connection_string,
        "MCPHUB_AUDIT_TABLE": "auditoperatorpage",
        "MCPHUB_USAGE_TABLE": "usageoperatorpage",
        "MCPHUB_SERVER_NOTES__HEADERS__X_API_KEY": SECRET,
        "MCPHUB_LIMIT_PERUSER__REQUESTS": "1000",
    }
    directory = Path(tmp_path_factory.mktemp("page"))
    with signed_in_hub(directory, "hub-page", env, facade=True, upstreams=("notes", "clock")) as w:
        yield w


@pytest.fixture(scope="module")
async def browser(world: dict[str, Any]) -> AsyncIterator[Browser]:
    token = world["authority"].mint(tenant="tenant-a", user="erin")
    async with client_for(f"{world['hub'].url}/mcp", token) as client:
        for n in range(3):
            await client.call_tool("notes__echo", {"text": f"hi {n}"})
        await client.call_tool("clock__now", {})
    async with chromium() as launched:
        yield launched


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    async with fresh_page(browser) as opened:
        yield opened


async def snapshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def accessible(page: Page) -> None:
    """One h1, every form control labelled, charts described, the current page marked in the nav."""
    problems = await page.evaluate(
        """() => {
          const out = [];
          const headings = document.querySelectorAll('h1').length;
          if (headings !== 1) out.push('h1 count ' + headings);
          for (const el of document.querySelectorAll('input, select, textarea'))
            if (!el.labels || el.labels.length === 0) out.push('unlabelled ' + (el.id || el.name || el.tagName));
          for (const svg of document.querySelectorAll('svg'))
            if (!svg.getAttribute('aria-label')) out.push('svg without aria-label');
          for (const table of document.querySelectorAll('table'))
            if (!table.querySelector('th')) out.push('table without headers');
          const nav = document.querySelector('nav');
          if (nav && !nav.querySelector('a[aria-current="page"]')) out.push('no current page');
          if (!document.documentElement.lang) out.push('no lang');
          return out;
        }"""
    )
    assert problems == []


async def open_page(page: Page, hub_url: str, name: str) -> str:
    await page.goto(f"{hub_url}/operator?login_hint={quote(ADMIN_HINT)}#{name}")
    await page.wait_for_selector(f"body[data-page='{name}']", timeout=20_000)
    return await page.inner_text("main")


async def test_an_admin_signs_in_through_the_facade_and_sees_the_overview(world: dict[str, Any], page: Page) -> None:
    text = await open_page(page, world["hub"].url, "overview")
    assert "Overview" in text
    assert "requests, last hour" in text
    assert "Hub.Admin" in await page.inner_text("#who")
    assert page.url.endswith("/operator#overview")  # the code and state left the address bar
    await accessible(page)
    await snapshot(page, "overview")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("servers", ["notes", "clock", "closed"]),
        (
            "regions",
            [
                "Routing controller: none",
                "Recent decisions",
                "The forecast needs 15 days of usage",
                "capacity controller is off",
            ],
        ),
        ("usage", ["notes/echo", "By server", "Top users"]),
        ("audit", ["tool.call", "Export CSV", "Verify hash chains"]),
        ("config", ["••••••", '"servers"', '"peruser"']),
    ],
)
async def test_each_operator_page_shows_its_part(
    world: dict[str, Any], page: Page, name: str, expected: list[str]
) -> None:
    if name == "audit":
        await open_page(page, world["hub"].url, name)
        await page.wait_for_selector("table tbody tr td", timeout=20_000)
        text = await page.inner_text("main")
    else:
        text = await open_page(page, world["hub"].url, name)
    for part in expected:
        assert part in text, (name, part)
    assert SECRET not in await page.content()
    await accessible(page)
    await snapshot(page, name)


async def test_an_admin_searches_the_audit_trail_and_verifies_its_chains(world: dict[str, Any], page: Page) -> None:
    await open_page(page, world["hub"].url, "audit")
    await page.get_by_label("Server").fill("clock")
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator("tbody tr")).to_have_count(1)
    assert "now" in await page.inner_text("tbody")
    await page.get_by_role("button", name="Verify hash chains").click()
    await expect(page.locator("#status")).to_have_text(re.compile(r"^Intact: \d+ records"))
    async with page.expect_download() as download:
        await page.get_by_role("button", name="Export CSV").click()
    saved = await (await download.value).path()
    assert saved is not None
    assert (await anyio.Path(saved).read_text()).startswith("at,event,user")


async def test_an_operator_describes_a_need_and_gets_servers_and_settings(world: dict[str, Any], page: Page) -> None:
    await open_page(page, world["hub"].url, "setup")
    await page.get_by_label("What does your team need?").fill("we track bugs in Jira and keep code on GitHub")
    await page.get_by_role("button", name="Recommend servers").click()
    await expect(page.locator("pre").first).to_contain_text("MCPHUB_SERVER_GITHUB__URL=https://")
    assert "jira" in await page.inner_text("table")
    assert "its server.json declares none" in await page.inner_text("table")  # jira's credentials
    assert "advice" in (await page.inner_text("main")).lower()
    await page.get_by_label("What do you want to get done with your tools?").fill("add a note, then echo it")
    await page.get_by_role("button", name="Plan a workflow").click()
    plan = page.get_by_role("table", name="Plan, in order")
    await expect(plan).to_contain_text("notes__add_note")
    await expect(plan).to_contain_text("name, text")
    await accessible(page)
    await snapshot(page, "setup")


async def test_a_user_without_an_operator_role_is_told_so(world: dict[str, Any], page: Page) -> None:
    await page.goto(f"{world['hub'].url}/operator?login_hint={quote('dana@tenant-a#Hub.User')}")
    await expect(page.locator("#status.error")).to_contain_text("no operator role", timeout=20_000)


async def test_the_connect_page_offers_one_click_installs_and_each_ides_config(
    world: dict[str, Any], page: Page
) -> None:
    await page.goto(f"{world['hub'].url}/start")
    mcp_url = f"{world['hub'].url}/mcp"
    assert await page.input_value("#url") == mcp_url
    cursor = await page.get_by_role("link", name="Add to Cursor").get_attribute("href")
    vscode = await page.get_by_role("link", name="Add to VS Code", exact=True).get_attribute("href")
    assert cursor is not None
    assert cursor.startswith("cursor://anysphere.cursor-deeplink/mcp/install?name=mcphub&config=")
    assert vscode is not None
    assert vscode.startswith("vscode:mcp/install?")
    assert f"claude mcp add --transport http mcphub {mcp_url}" in await page.inner_text("main")
    await accessible(page)
    await snapshot(page, "start")


async def test_the_api_page_lists_every_operation_and_downloads_the_document_under_the_strict_csp(
    world: dict[str, Any], page: Page
) -> None:
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    text = await open_page(page, world["hub"].url, "api")
    assert "OpenAPI 3.1.0" in text
    rows = await page.locator("tbody tr").all_inner_texts()
    assert any("/ops/usage" in r and "Hub.Admin, Hub.Operator" in r for r in rows)
    assert any("/ops/audit\t" in r and "Hub.Admin\t" in r for r in rows)
    assert any("/oauth/token" in r and "none (public)" in r for r in rows)
    async with page.expect_download() as download:
        await page.get_by_role("button", name="Download openapi.json").click()
    saved = await (await download.value).path()
    doc = json.loads(await anyio.Path(saved).read_text())
    validate_document(doc)
    assert len(rows) == sum(len(item) for item in doc["paths"].values())
    assert refused == []
    await accessible(page)
    await snapshot(page, "api")
