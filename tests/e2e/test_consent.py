"""Consent before the facade signs anyone in for a dynamically registered application.

Over HTTP: the page names the application and where it sends the browser back to, may not be
framed, a denial goes back as access_denied without any sign-in, and a forged or cross-site answer
is refused. In Debian's Chromium: the person allows once, the next sign-in from that browser skips
the question, another browser is asked again, and a page of another origin cannot frame it.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from playwright.async_api import Browser as Chromium

from infra.processes import Child
from tests.e2e.chromium import chromium, require_chromium
from tests.e2e.clients import audit_items, signed_in_hub
from tests.e2e.test_oauth_facade import REDIRECT, Browser, _pkce
from tests.e2e.test_redirect_uris import Listener

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, storage_connection_string: str) -> Iterator[dict[str, Any]]:
    require_chromium()
    env = {
        "AzureWebJobsStorage": storage_connection_string,
        "MCPHUB_AUDIT_TABLE": "auditconsent",
        "MCPHUB_AUDIT_FLUSH_SECONDS": "0.2",
        "MCPHUB_AUTH__REGISTRATIONS_PER_HOUR": "1000",
    }
    with signed_in_hub(Path(tmp_path_factory.mktemp("consent")), "hub-consent", env, facade=True) as w:
        yield w


def register(hub: Child, name: str, redirect: str = REDIRECT) -> str:
    registered = httpx.post(f"{hub.url}/oauth/register", json={"redirect_uris": [redirect], "client_name": name})
    assert registered.status_code == 201
    return str(registered.json()["client_id"])


def authorize_url(hub: Child, client_id: str, redirect: str = REDIRECT, hint: str | None = None) -> str:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect,
        "code_challenge": _pkce()[1],
        "code_challenge_method": "S256",
        "state": "st",
        **({"login_hint": hint} if hint else {}),
    }
    return f"{hub.url}/oauth/authorize?{urlencode(query)}"


def test_an_unapproved_application_gets_a_consent_page_naming_it_and_where_it_returns(world: dict[str, Any]) -> None:
    hub: Child = world["hub"]
    client_id = register(hub, "Totally <b>Legit</b> Tool")
    page = httpx.get(authorize_url(hub, client_id))
    assert page.status_code == 200
    assert "Totally &lt;b&gt;Legit&lt;/b&gt; Tool" in page.text  # named, and escaped
    assert f"<code>{REDIRECT}</code>" in page.text
    assert client_id in page.text
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "SameSite=Strict" in page.headers["set-cookie"]


def test_deny_goes_back_as_access_denied_and_signs_nobody_in(world: dict[str, Any]) -> None:
    hub: Child = world["hub"]
    browser = Browser(world["authority"], "denise@tenant-a")
    landed = browser.follow(authorize_url(hub, register(hub, "Unwanted")), decision="deny")
    params = parse_qs(urlsplit(landed).query)
    assert params["error"] == ["access_denied"]
    assert params["state"] == ["st"]
    assert "code" not in params


def test_a_forged_or_cross_site_answer_is_refused(world: dict[str, Any]) -> None:
    hub: Child = world["hub"]
    page = httpx.get(authorize_url(hub, register(hub, "Target")))
    token = re.search(r'name="token" value="([^"]+)"', page.text)
    assert token is not None
    form = {"token": html.unescape(token.group(1)), "decision": "allow"}
    # A cross-site form post carries no SameSite=Strict cookie: refused, and nothing forwarded.
    cross_site = httpx.post(f"{hub.url}/oauth/consent", data=form)
    assert cross_site.status_code == 403
    assert "location" not in cross_site.headers
    forged = httpx.post(f"{hub.url}/oauth/consent", data={**form, "token": "v1.x.AAAA"}, cookies=page.cookies)
    assert forged.status_code == 403


async def audited(world: dict[str, Any], event: str) -> list[dict[str, Any]]:
    admin = world["authority"].mint(tenant="tenant-a", user="auditor", roles=("Hub.User", "Hub.Admin"))
    return await audit_items(world["hub"].url, admin, event)


# ---- in a real browser ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    started = Listener()
    yield started
    started.close()


@pytest.fixture(scope="module")
async def browser(world: dict[str, Any]) -> AsyncIterator[Chromium]:
    async with chromium() as launched:
        yield launched


async def test_chromium_asks_once_per_browser_and_application(
    world: dict[str, Any], browser: Chromium, listener: Listener
) -> None:
    hub: Child = world["hub"]
    redirect = f"http://127.0.0.1:{listener.port}/callback"
    client_id = register(hub, "Cursor (test)", redirect)
    url = authorize_url(hub, client_id, redirect, hint="carla@tenant-a")
    context = await browser.new_context(ignore_https_errors=True)
    page = await context.new_page()
    await page.goto(url)
    assert await page.locator("h1").inner_text() == "Allow this application?"
    assert "Cursor (test)" in await page.inner_text("body")
    async with page.expect_navigation(url=re.compile(r"/callback\?code="), timeout=20_000):
        await page.click("button[value=allow]")
    # The same browser, the same application: no question this time.
    await page.goto(url)
    assert "/callback?code=" in page.url
    await context.close()
    # Another browser has not approved it: asked again.
    other = await browser.new_context(ignore_https_errors=True)
    fresh = await other.new_page()
    await fresh.goto(url)
    assert await fresh.locator("button[value=allow]").count() == 1
    await other.close()
    given = await audited(world, "oauth.consent_given")
    assert any(item["detail"].get("client_id") == client_id for item in given), given


async def test_a_page_of_another_origin_cannot_frame_the_consent_page(world: dict[str, Any], browser: Chromium) -> None:
    hub: Child = world["hub"]
    consent_url = authorize_url(hub, register(hub, "Framed"))
    context = await browser.new_context()
    page = await context.new_page()

    async def framed(url: str) -> str:
        """The URL the iframe ended on, once the attacker's page (not the hub's origin) has loaded."""
        body = f'<!doctype html><iframe src="{html.escape(url)}" width="600" height="400"></iframe>'
        await page.set_content(body, wait_until="load")
        return page.frames[1].url

    # The control: a hub URL that may be framed does load in the frame.
    assert await framed(f"{hub.url}/health") == f"{hub.url}/health"
    blocked = await framed(consent_url)
    assert blocked != consent_url
    assert await page.frames[1].locator("button[value=allow]").count() == 0
    await context.close()
