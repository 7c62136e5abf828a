"""The OAuth facade end to end: the MCP SDK's own OAuth client discovers the hub, registers
(DCR), sends the user through /authorize to the identity provider (a real OIDC authority on this
machine, signed in to through MSAL), gets the hub's token with PKCE, calls tools, and refreshes."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import httpx2
import jwt
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from infra.oidc import LocalAuthority
from infra.processes import Child
from shared.operator_api.document import Security, document
from tests.e2e.clients import signed_in_hub
from tests.operator_api import check_answer

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]
REDIRECT = "http://127.0.0.1:33418/callback"  # the IDE's loopback listener; never dialled here


@pytest.fixture(scope="module")
def facade(
    tmp_path_factory: pytest.TempPathFactory,
    storage_connection_string: str,
    notes_upstream: Child,
    clock_upstream: Child,
) -> Iterator[dict[str, Any]]:
    env = {
        "AzureWebJobsStorage": storage_connection_string,
        "MCPHUB_SERVER_NOTES__URL": f"{notes_upstream.url}/mcp",
        "MCPHUB_SERVER_CLOCK__URL": f"{clock_upstream.url}/mcp",
        "MCPHUB_SERVER_CLOCK__ROLES": "Hub.Admin",
        # Reuse detection is tested here without the grace period for concurrent refreshes
        # (tests/e2e/test_sign_in_lifecycle.py tests the grace period).
        "MCPHUB_AUTH__REFRESH_GRACE_SECONDS": "0",
    }
    directory = Path(tmp_path_factory.mktemp("facade"))
    with signed_in_hub(directory, "hub-facade", env, tenants=("tenant-a", "tenant-b"), facade=True) as world:
        yield world


class Browser:
    """The user's browser: follows the redirects and signs in as `account` at the identity provider."""

    def __init__(self, authority: LocalAuthority, account: str) -> None:
        self.authority = authority
        self.account = account
        self.landed: list[str] = []
        self.consent_pages: list[str] = []

    def follow(self, url: str, *, decision: str = "allow") -> str:
        """Follow the sign-in; on the hub's consent page, answer `decision` (allow or deny)."""
        verify = ssl.create_default_context(cafile=self.authority.ca_file)
        with httpx.Client(verify=verify, follow_redirects=False) as http:
            for _ in range(6):
                if url.startswith(REDIRECT) or urlsplit(url).path == urlsplit(REDIRECT).path:
                    self.landed.append(url)
                    return url
                if url.startswith(self.authority.origin):  # the sign-in page: the user picks an account
                    url = f"{url}&{urlencode({'login_hint': self.account})}"
                response = http.get(url)
                if response.status_code == 200 and 'action="/oauth/consent"' in response.text:
                    self.consent_pages.append(response.text)
                    token = re.search(r'name="token" value="([^"]+)"', response.text)
                    assert token is not None
                    form = {"token": html.unescape(token.group(1)), "decision": decision}
                    response = http.post(f"{url.split('/oauth/')[0]}/oauth/consent", data=form)
                assert response.status_code == 302, (url, response.status_code, response.text[:300])
                url = response.headers["location"]
        raise AssertionError(f"the sign-in never came back to the IDE: {url}")


class Memory(TokenStorage):
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


@asynccontextmanager
async def ide(url: str, browser: Browser, storage: Memory, mode: str = "legacy") -> AsyncIterator[Client]:
    async def open_browser(authorization_url: str) -> None:
        browser.follow(authorization_url)

    async def callback() -> AuthorizationCodeResult:
        query = parse_qs(urlsplit(browser.landed[-1]).query)
        return AuthorizationCodeResult(code=query["code"][0], state=query["state"][0], iss=query["iss"][0])

    provider = OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            redirect_uris=[REDIRECT],  # type: ignore[list-item] - pydantic coerces the string
            client_name="test IDE",
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=open_browser,
        callback_handler=callback,
    )
    async with (
        httpx2.AsyncClient(auth=provider, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as client,
    ):
        yield client


async def test_an_ide_signs_in_through_the_facade_and_uses_tools(facade: dict[str, Any]) -> None:
    hub: Child = facade["hub"]
    browser, storage = Browser(facade["authority"], "alice@tenant-a#Hub.User"), Memory()
    async with ide(f"{hub.url}/mcp", browser, storage) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        result = await client.call_tool("notes__echo", {"text": "through the facade"})
    assert "notes__echo" in names
    assert not any(name.startswith("clock__") for name in names)
    assert not result.is_error
    assert storage.client is not None
    assert storage.client.client_id.startswith("mcphub-")
    assert storage.tokens is not None
    claims = jwt.decode(storage.tokens.access_token, options={"verify_signature": False})
    assert (claims["iss"], claims["aud"], claims["tid"], claims["oid"]) == (
        hub.url,
        f"{hub.url}/mcp",
        "tenant-a",
        "alice",
    )


async def test_the_hub_token_is_verified_against_the_published_jwks(facade: dict[str, Any]) -> None:
    hub: Child = facade["hub"]
    storage = Memory()
    async with ide(f"{hub.url}/mcp", Browser(facade["authority"], "bob@tenant-b#Hub.Admin"), storage) as client:
        assert "clock__now" in {tool.name for tool in (await client.list_tools()).tools}
    assert storage.tokens is not None
    jwks = jwt.PyJWKClient(f"{hub.url}/oauth/jwks")
    key = jwks.get_signing_key_from_jwt(storage.tokens.access_token)
    claims = jwt.decode(storage.tokens.access_token, key.key, algorithms=["RS256"], audience=f"{hub.url}/mcp")
    assert claims["roles"] == ["Hub.Admin"]


async def test_a_refresh_token_works_once_and_its_reuse_ends_the_sign_in(facade: dict[str, Any]) -> None:
    hub: Child = facade["hub"]
    storage = Memory()
    async with ide(f"{hub.url}/mcp", Browser(facade["authority"], "carol@tenant-a"), storage) as client:
        await client.list_tools()
    assert storage.tokens is not None
    assert storage.client is not None
    first = storage.tokens.refresh_token
    form = {"grant_type": "refresh_token", "refresh_token": first, "client_id": storage.client.client_id}
    async with httpx.AsyncClient() as http:
        renewed = await http.post(f"{hub.url}/oauth/token", data=form)
        assert renewed.status_code == 200
        second = renewed.json()["refresh_token"]
        assert second != first
        replayed = await http.post(f"{hub.url}/oauth/token", data=form)
        assert (replayed.status_code, replayed.json()["error"]) == (400, "invalid_grant")
        # The replay revoked the whole sign-in: the token handed out after it is dead as well.
        after = await http.post(f"{hub.url}/oauth/token", data={**form, "refresh_token": second})
        assert (after.status_code, after.json()["error"]) == (400, "invalid_grant")


async def test_a_user_of_a_tenant_that_is_not_allowed_is_sent_back_with_access_denied(
    facade: dict[str, Any],
) -> None:
    hub: Child = facade["hub"]
    browser = Browser(facade["authority"], "eve@tenant-evil")
    with pytest.raises(Exception):  # noqa: B017, PT011 - the SDK raises its own OAuth error type
        async with ide(f"{hub.url}/mcp", browser, Memory()) as client:
            await client.list_tools()
    assert "error=access_denied" in browser.landed[-1]


def test_the_authorization_server_metadata_advertises_pkce_and_registration(facade: dict[str, Any]) -> None:
    hub: Child = facade["hub"]
    metadata = httpx.get(f"{hub.url}/.well-known/oauth-authorization-server").json()
    assert metadata["issuer"] == hub.url
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["registration_endpoint"] == f"{hub.url}/oauth/register"
    resource = httpx.get(f"{hub.url}/.well-known/oauth-protected-resource/mcp").json()
    assert resource["authorization_servers"] == [hub.url]


@pytest.mark.parametrize(
    "redirect", ["https://evil.example/callback", "http://192.168.1.5/callback", "javascript:alert(1)"]
)
def test_registration_refuses_redirects_outside_loopback_and_ide_schemes(facade: dict[str, Any], redirect: str) -> None:
    hub: Child = facade["hub"]
    response = httpx.post(f"{hub.url}/oauth/register", json={"redirect_uris": [redirect], "client_name": "x"})
    assert (response.status_code, response.json()["error"]) == (400, "invalid_redirect_uri")


def _register(hub: Child) -> str:
    registered = httpx.post(f"{hub.url}/oauth/register", json={"redirect_uris": [REDIRECT], "client_name": "raw"})
    assert registered.status_code == 201
    return str(registered.json()["client_id"])


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def _code(facade: dict[str, Any], client_id: str, challenge: str) -> str:
    hub: Child = facade["hub"]
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "xyz",
        "resource": f"{hub.url}/mcp",
    }
    landed = Browser(facade["authority"], "dave@tenant-a").follow(f"{hub.url}/oauth/authorize?{urlencode(query)}")
    params = parse_qs(urlsplit(landed).query)
    assert params["state"] == ["xyz"]
    assert params["iss"] == [hub.url]
    return params["code"][0]


def test_a_code_is_refused_with_the_wrong_pkce_verifier_and_is_spent_by_the_attempt(facade: dict[str, Any]) -> None:
    hub: Child = facade["hub"]
    client_id = _register(hub)
    verifier, challenge = _pkce()
    code = _code(facade, client_id, challenge)
    form = {"grant_type": "authorization_code", "code": code, "client_id": client_id, "redirect_uri": REDIRECT}
    wrong = httpx.post(f"{hub.url}/oauth/token", data={**form, "code_verifier": _pkce()[0]})
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_grant")
    late = httpx.post(f"{hub.url}/oauth/token", data={**form, "code_verifier": verifier})
    assert (late.status_code, late.json()["error"]) == (400, "invalid_grant")


def _code_form(facade: dict[str, Any], client_id: str) -> dict[str, str]:
    """The token request that redeems a fresh code for `client_id`, with its PKCE verifier."""
    verifier, challenge = _pkce()
    return {
        "grant_type": "authorization_code",
        "code": _code(facade, client_id, challenge),
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }


def test_a_code_is_redeemed_once_only(facade: dict[str, Any]) -> None:
    hub: Child = facade["hub"]
    form = _code_form(facade, _register(hub))
    first = httpx.post(f"{hub.url}/oauth/token", data=form)
    assert first.status_code == 200
    assert first.headers["cache-control"] == "no-store"
    second = httpx.post(f"{hub.url}/oauth/token", data=form)
    assert (second.status_code, second.json()["error"]) == (400, "invalid_grant")


def test_authorize_never_redirects_to_an_address_the_client_did_not_register(facade: dict[str, Any]) -> None:
    hub: Child = facade["hub"]
    client_id = _register(hub)
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": "http://evil.example/steal",
        "code_challenge": _pkce()[1],
        "code_challenge_method": "S256",
    }
    response = httpx.get(f"{hub.url}/oauth/authorize?{urlencode(query)}")
    assert response.status_code == 400
    assert "location" not in response.headers


def test_authorize_without_pkce_is_sent_back_with_invalid_request(facade: dict[str, Any]) -> None:
    hub: Child = facade["hub"]
    query = {"response_type": "code", "client_id": _register(hub), "redirect_uri": REDIRECT, "state": "s"}
    response = httpx.get(f"{hub.url}/oauth/authorize?{urlencode(query)}")
    assert response.status_code == 302
    assert "error=invalid_request" in response.headers["location"]
    assert "state=s" in response.headers["location"]


def test_the_facades_answers_are_what_the_published_document_says(facade: dict[str, Any]) -> None:
    hub: Child = facade["hub"]
    security = Security(f"{hub.url}/oauth/authorize", f"{hub.url}/oauth/token", "MCP.Access")
    doc = document(hub.url, security, facade=True)
    for path in (
        "/.well-known/oauth-authorization-server",
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource/mcp/notes",
        "/oauth/jwks",
    ):
        reply = httpx.get(f"{hub.url}{path}")
        assert reply.status_code == 200, path
        template = path.replace("/mcp/notes", "/mcp/{server}")
        check_answer(doc, "GET", template, 200, reply.json())
    registered = httpx.post(f"{hub.url}/oauth/register", json={"redirect_uris": [REDIRECT], "client_name": "doc"})
    check_answer(doc, "POST", "/oauth/register", registered.status_code, registered.json())
    refused = httpx.post(f"{hub.url}/oauth/register", json={"redirect_uris": ["https://evil.example/cb"]})
    check_answer(doc, "POST", "/oauth/register", refused.status_code, refused.json())
    client_id = registered.json()["client_id"]
    form = _code_form(facade, client_id)
    tokens = httpx.post(f"{hub.url}/oauth/token", data=form)
    check_answer(doc, "POST", "/oauth/token", tokens.status_code, tokens.json())
    spent = httpx.post(f"{hub.url}/oauth/token", data=form)
    check_answer(doc, "POST", "/oauth/token", spent.status_code, spent.json())
    assert (tokens.status_code, spent.status_code) == (200, 400)
    listed = doc["paths"]["/oauth/authorize"]["get"]["responses"]
    bad_redirect = {"response_type": "code", "client_id": client_id, "redirect_uri": "http://evil.example/x"}
    assert str(httpx.get(f"{hub.url}/oauth/authorize?{urlencode(bad_redirect)}").status_code) in listed
    assert (
        str(httpx.get(f"{hub.url}/oauth/authorize?{urlencode({**bad_redirect, 'redirect_uri': REDIRECT})}").status_code)
        in listed
    )
