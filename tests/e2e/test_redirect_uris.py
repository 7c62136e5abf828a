"""Authorization codes go only where the client registered, as a browser reads the address.

Every URI of tests/redirect_corpus.py is tried at the hub's three doors, over HTTP: `/oauth/register`
(refused unless well-formed and allowed), `/oauth/authorize` for a client that registered the honest
loopback URI (a 400 page, never a redirect), and `/oauth/token` for a code issued to that URI
(invalid_grant). Then Debian's Chromium follows real sign-ins with hostile redirect URIs, its resolver
mapping the attacker's host name to a local listener: no request carrying a code leaves for any
host but loopback, and the listener sees nothing.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import httpx
import pytest
from playwright.async_api import Browser as Chromium

from infra.processes import Child
from tests.e2e.chromium import chromium, require_chromium
from tests.e2e.clients import signed_in_hub
from tests.e2e.test_oauth_facade import Browser, _pkce
from tests.redirect_corpus import CORPUS, MATCHING, REGISTERED
from tests.unit.test_public_fetch import LITERALS
from tests.unit.test_public_fetch import Listener as TcpListener

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]
IDS = [why for _, _, why in CORPUS]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, storage_connection_string: str) -> Iterator[dict[str, Any]]:
    require_chromium()
    env = {"AzureWebJobsStorage": storage_connection_string, "MCPHUB_AUTH__REGISTRATIONS_PER_HOUR": "1000"}
    directory = Path(tmp_path_factory.mktemp("redirects"))
    with signed_in_hub(directory, "hub-redirects", env, facade=True, upstreams=("notes",)) as w:
        yield w


@pytest.fixture(scope="module")
def honest_client(world: dict[str, Any]) -> str:
    return _register(world["hub"], REGISTERED)


def _register(hub: Child, uri: str) -> str:
    registered = httpx.post(f"{hub.url}/oauth/register", json={"redirect_uris": [uri], "client_name": "IDE"})
    assert registered.status_code == 201, registered.text
    return str(registered.json()["client_id"])


def _authorize_query(hub: Child, client_id: str, redirect_uri: str | None, challenge: str) -> dict[str, str]:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "s1",
        "resource": f"{hub.url}/mcp",
    }
    return query if redirect_uri is None else {**query, "redirect_uri": redirect_uri}


def _signed_in_code(world: dict[str, Any], client_id: str, redirect_uri: str | None, challenge: str) -> str:
    hub: Child = world["hub"]
    url = f"{hub.url}/oauth/authorize?{urlencode(_authorize_query(hub, client_id, redirect_uri, challenge))}"
    landed = Browser(world["authority"], "dave@tenant-a").follow(url)
    return parse_qs(urlsplit(landed).query)["code"][0]


@pytest.mark.parametrize(("uri", "registrable"), [(u, r) for u, r, _ in CORPUS], ids=IDS)
def test_register_accepts_only_canonical_allowed_redirect_uris(
    world: dict[str, Any], uri: str, registrable: bool
) -> None:
    response = httpx.post(f"{world['hub'].url}/oauth/register", json={"redirect_uris": [uri], "client_name": "x"})
    if registrable:
        assert response.status_code == 201, response.text
        assert response.json()["redirect_uris"] == [uri]
    else:
        assert (response.status_code, response.json()["error"]) == (400, "invalid_redirect_uri"), uri


@pytest.mark.parametrize("uri", [u for u, _, _ in CORPUS], ids=IDS)
def test_authorize_shows_an_error_page_and_never_redirects_to_a_hostile_uri(
    world: dict[str, Any], honest_client: str, uri: str
) -> None:
    hub: Child = world["hub"]
    query = _authorize_query(hub, honest_client, uri, _pkce()[1])
    response = httpx.get(f"{hub.url}/oauth/authorize", params=query)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "Sign-in failed" in response.text


@pytest.mark.parametrize("uri", [u for u, _, _ in CORPUS], ids=IDS)
def test_token_refuses_a_code_with_a_hostile_redirect_uri(world: dict[str, Any], honest_client: str, uri: str) -> None:
    verifier, challenge = _pkce()
    code = _signed_in_code(world, honest_client, REGISTERED, challenge)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": honest_client,
        "redirect_uri": uri,
        "code_verifier": verifier,
    }
    response = httpx.post(f"{world['hub'].url}/oauth/token", data=form)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")
    assert "access_token" not in response.json()


@pytest.mark.parametrize("uri", MATCHING)
def test_a_loopback_redirect_may_change_only_its_port(world: dict[str, Any], honest_client: str, uri: str) -> None:
    hub: Child = world["hub"]
    response = httpx.get(f"{hub.url}/oauth/authorize", params=_authorize_query(hub, honest_client, uri, _pkce()[1]))
    assert response.status_code == 200  # the consent page, naming where the browser goes back to
    assert f"<code>{uri}</code>" in response.text


def test_token_requires_the_redirect_uri_that_authorize_was_given(world: dict[str, Any], honest_client: str) -> None:
    verifier, challenge = _pkce()
    code = _signed_in_code(world, honest_client, REGISTERED, challenge)
    form = {"grant_type": "authorization_code", "code": code, "client_id": honest_client, "code_verifier": verifier}
    response = httpx.post(f"{world['hub'].url}/oauth/token", data=form)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")
    assert "redirect_uri is required" in response.json()["error_description"]


def test_token_needs_no_redirect_uri_when_authorize_had_none(world: dict[str, Any], honest_client: str) -> None:
    verifier, challenge = _pkce()
    code = _signed_in_code(world, honest_client, None, challenge)
    form = {"grant_type": "authorization_code", "code": code, "client_id": honest_client, "code_verifier": verifier}
    response = httpx.post(f"{world['hub'].url}/oauth/token", data=form)
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"


# ---- in a real browser ---------------------------------------------------------------------------


class Listener:
    """A plain HTTP listener on loopback that records the Host header and path of every navigation
    to it. A browser's own fetches (the favicon Chromium asks for after a page loads, at a moment
    of its choosing) are answered but not recorded: they carry no code and nobody sent them."""

    def __init__(self) -> None:
        seen: list[tuple[str, str]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.headers.get("sec-fetch-dest", "document") == "document":
                    seen.append((self.headers.get("host", ""), self.path))
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"listener")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.seen = seen
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    started = Listener()
    yield started
    started.close()


@pytest.fixture(scope="module")
async def browser(world: dict[str, Any], listener: Listener) -> AsyncIterator[Chromium]:
    rules = "--host-resolver-rules=MAP evil.example 127.0.0.1, MAP *.evil.example 127.0.0.1"
    async with chromium(rules) as launched:
        yield launched


async def _sign_in_in_chromium(browser: Chromium, url: str) -> list[str]:
    """Open `url` and sign in; every URL the browser requested, once it settled."""
    context = await browser.new_context(ignore_https_errors=True)
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    page = await context.new_page()
    try:
        await page.goto(url, wait_until="load", timeout=20_000)
        if await page.locator("button[value=allow]").count():  # the consent page: the user allows
            async with page.expect_navigation(url=lambda u: "code=" in u or "error=" in u, timeout=20_000):
                await page.click("button[value=allow]")
    finally:
        await context.close()
    return requested


def _hostile(port: int) -> list[str]:
    """Browser host evil.example but urlsplit host loopback, or not the registered URI as a browser reads it."""
    return [
        f"http://evil.example:{port}\\@127.0.0.1:{port}/callback",
        f"http://evil.example:{port}\\@127.0.0.1/callback",
        f"http:\\\\evil.example:{port}\\@127.0.0.1:{port}/callback",
        f"http://evil.example:{port}\t@127.0.0.1:{port}/callback",
        f"http://127.0.0.1:{port}/callback?next=http://evil.example:{port}/",
        f"HTTP://127.0.0.1:{port}/callback",
        f"http://127.0.0.1:{port}/callback#",
    ]


async def test_chromium_never_takes_a_code_to_a_foreign_host(
    world: dict[str, Any], browser: Chromium, listener: Listener
) -> None:
    hub: Child = world["hub"]
    client_id = _register(hub, f"http://127.0.0.1:{listener.port}/callback")
    hint = quote("victim@tenant-a#Hub.User,Hub.Admin")

    # The harness can see a delivered code: an honest sign-in lands on the listener with one.
    honest = _authorize_query(hub, client_id, f"http://127.0.0.1:{listener.port}/callback", _pkce()[1])
    await _sign_in_in_chromium(browser, f"{hub.url}/oauth/authorize?{urlencode(honest)}&login_hint={hint}")
    assert any(host == f"127.0.0.1:{listener.port}" and "code=" in path for host, path in listener.seen)
    listener.seen.clear()

    for uri in _hostile(listener.port):
        query = _authorize_query(hub, client_id, uri, _pkce()[1])
        requested = await _sign_in_in_chromium(
            browser, f"{hub.url}/oauth/authorize?{urlencode(query)}&login_hint={hint}"
        )
        carrying_code = [url for url in requested if "code=" in url]
        assert all(urlsplit(url).hostname in ("127.0.0.1", "localhost") for url in requested), (uri, requested)
        assert carrying_code == [], (uri, carrying_code)
    assert listener.seen == []


# ---- client ID metadata documents ----------------------------------------------------------------


def test_a_client_id_url_naming_an_internal_address_is_never_fetched(world: dict[str, Any]) -> None:
    hub: Child = world["hub"]
    tcp = TcpListener()
    try:
        for template in LITERALS:
            client_id = template.format(port=tcp.port)
            query = {**_authorize_query(hub, client_id, REGISTERED, _pkce()[1])}
            response = httpx.get(f"{hub.url}/oauth/authorize", params=query)
            assert response.status_code == 400, client_id
            assert "not registered" in response.text
    finally:
        tcp.close()
    assert tcp.accepted == 0
