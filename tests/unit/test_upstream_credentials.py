"""Upstream credentials per user: the vault, connect tickets, OAuth refresh and revocation."""

from __future__ import annotations

import html
import os
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from shared.errors import CredentialRequired
from shared.identity.connect import COOKIE, ConnectPages
from shared.identity.credentials import ConnectTickets, CredentialVault
from shared.identity.grants import MemoryGrantStore
from shared.identity.upstream_auth import UpstreamCredentials
from shared.sealing import Sealer
from shared.settings import ServerSettings

pytestmark = pytest.mark.anyio
PAT = ServerSettings.model_validate({"name": "github", "url": "http://gh.test/mcp", "auth": "user_token"})
OAUTH = ServerSettings.model_validate(
    {
        "name": "jira",
        "url": "http://jira.test/mcp",
        "auth": "user_oauth",
        "oauth_authorize_url": "https://auth.jira.test/authorize",
        "oauth_token_url": "https://auth.jira.test/token",
        "oauth_client_id": "hub-at-jira",
        "oauth_client_secret": "s3cret",
        "oauth_scopes": "read:jira-work",
    }
)


class World:
    def __init__(self) -> None:
        self.now = 1000.0
        self.token_requests: list[dict[str, str]] = []
        self.token_answer: tuple[int, Any] = (200, {"access_token": "new-at", "expires_in": 3600})
        sealer = Sealer([os.urandom(32)])
        self.grants = MemoryGrantStore()
        self.vault = CredentialVault(self.grants, sealer, clock=self.clock)
        self.tickets = ConnectTickets(sealer, clock=self.clock)
        http = httpx.AsyncClient(transport=httpx.MockTransport(self.token_endpoint))
        self.credentials = UpstreamCredentials(
            self.vault, self.tickets, public_url="https://hub.test", http=http, clock=self.clock
        )
        servers = {"github": PAT, "jira": OAUTH}
        self.pages = ConnectPages(
            servers,
            self.vault,
            self.tickets,
            self.credentials,
            grants=self.grants,
            sealer=sealer,
            public_url="https://hub.test",
            http=http,
            clock=self.clock,
            oauth=None,  # authentication off: the e2e tests sign in through the facade
        )

    def clock(self) -> float:
        return self.now

    def token_endpoint(self, request: httpx.Request) -> httpx.Response:
        self.token_requests.append({k: v[0] for k, v in parse_qs(request.content.decode()).items()})
        status, body = self.token_answer
        return httpx.Response(status, json=body)


async def test_without_a_credential_the_user_gets_a_link_whose_ticket_names_them_and_the_server() -> None:
    world = World()
    with pytest.raises(CredentialRequired) as needed:
        await world.credentials.headers(PAT, "t1:alice", None)
    url = needed.value.data["connectUrl"]
    assert url.startswith("https://hub.test/connect/github?ticket=")
    assert world.tickets.read(parse_qs(urlsplit(url).query)["ticket"][0], "github") == "t1:alice"


async def test_a_stored_token_is_sent_as_a_bearer_header_to_its_own_user_only() -> None:
    world = World()
    await world.vault.put("t1:alice", "github", {"access_token": "ghp_a"})
    assert await world.credentials.headers(PAT, "t1:alice", None) == {"Authorization": "Bearer ghp_a"}
    with pytest.raises(CredentialRequired):
        await world.credentials.headers(PAT, "t1:bob", None)


async def test_an_expiring_oauth_credential_is_refreshed_and_the_new_one_kept() -> None:
    world = World()
    await world.vault.put("t1:alice", "jira", {"access_token": "old", "refresh_token": "rt-1", "expires_at": 1030.0})
    assert await world.credentials.headers(OAUTH, "t1:alice", None) == {"Authorization": "Bearer new-at"}
    assert world.token_requests == [
        {"grant_type": "refresh_token", "refresh_token": "rt-1", "client_id": "hub-at-jira", "client_secret": "s3cret"}
    ]
    stored = await world.vault.get("t1:alice", "jira")
    assert stored == {"access_token": "new-at", "refresh_token": "rt-1", "expires_at": 4600.0}


async def test_a_refresh_the_upstream_refuses_forgets_the_credential_and_asks_to_reconnect() -> None:
    world = World()
    world.token_answer = (400, {"error": "invalid_grant"})
    await world.vault.put("t1:alice", "jira", {"access_token": "old", "refresh_token": "rt-1", "expires_at": 1000.0})
    with pytest.raises(CredentialRequired):
        await world.credentials.headers(OAUTH, "t1:alice", None)
    assert await world.vault.get("t1:alice", "jira") is None


@pytest.mark.parametrize("answer", [["access_token"], "access_token", 42])
async def test_a_refresh_answered_with_json_that_is_not_an_object_asks_to_reconnect(answer: object) -> None:
    world = World()
    world.token_answer = (200, answer)
    await world.vault.put("t1:alice", "jira", {"access_token": "old", "refresh_token": "rt-1", "expires_at": 1000.0})
    with pytest.raises(CredentialRequired):
        await world.credentials.headers(OAUTH, "t1:alice", None)


async def test_an_upstream_401_forgets_the_users_credential() -> None:
    world = World()
    await world.vault.put("t1:alice", "github", {"access_token": "ghp_a"})
    await world.credentials.headers(PAT, "t1:alice", None)  # now cached too
    error = await world.credentials.rejected(PAT, "t1:alice")
    assert isinstance(error, CredentialRequired)
    assert await world.vault.get("t1:alice", "github") is None
    with pytest.raises(CredentialRequired):
        await world.credentials.headers(PAT, "t1:alice", None)


@pytest.mark.parametrize(("server", "age"), [("github", 0.0), ("jira", 0.0), ("github", 901.0)])
def test_a_ticket_is_refused_for_another_server_or_after_fifteen_minutes(server: str, age: float) -> None:
    world = World()
    ticket = world.tickets.issue("t1:alice", "github")
    world.now += age
    if server == "github" and age == 0.0:
        assert world.tickets.read(ticket, server) == "t1:alice"
    else:
        with pytest.raises(ValueError, match="link"):
            world.tickets.read(ticket, server)


async def test_connecting_an_oauth_account_runs_auth_code_with_pkce_and_stores_the_tokens() -> None:
    world = World()
    ticket = world.tickets.issue("t1:alice", "jira")
    confirm = await world.pages.start("jira", ticket)
    assert confirm.status == 200
    cookies = {COOKIE: confirm.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]}
    found = re.search(r'name="grant" value="([^"]+)"', confirm.body.decode())
    assert found is not None
    started = await world.pages.submit("jira", {"grant": html.unescape(found.group(1))}, cookies)
    assert started.status == 302
    location = urlsplit(started.headers["Location"])
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert f"{location.scheme}://{location.netloc}{location.path}" == "https://auth.jira.test/authorize"
    assert query["code_challenge_method"] == "S256"
    assert query["redirect_uri"] == "https://hub.test/oauth/connect-callback"
    world.token_answer = (200, {"access_token": "jira-at", "refresh_token": "jira-rt", "expires_in": 600})
    assert (await world.pages.callback({"code": "c-1", "state": query["state"]}, {})).status == 400  # other browser
    done = await world.pages.callback({"code": "c-1", "state": query["state"]}, cookies)
    assert done.status == 200
    assert world.token_requests[-1]["code_verifier"]
    assert world.token_requests[-1]["grant_type"] == "authorization_code"
    assert await world.vault.get("t1:alice", "jira") == {
        "access_token": "jira-at",
        "refresh_token": "jira-rt",
        "expires_at": 1600.0,
    }


async def test_a_tampered_oauth_state_connects_nothing() -> None:
    world = World()
    page = await world.pages.callback({"code": "c-1", "state": "v1.x.AAAA"}, {COOKIE: "x"})
    assert page.status == 400
    assert world.token_requests == []


@pytest.mark.parametrize(
    ("mode", "sends", "connect"),
    [
        ("none", False, None),
        ("managed_identity", True, None),
        ("obo", True, None),
        ("user_token", True, "paste"),
        ("user_oauth", True, "oauth"),
    ],
)
def test_each_auth_mode_is_one_object_that_says_what_it_sends_and_how_users_connect(
    mode: str, sends: bool, connect: str | None
) -> None:
    server = ServerSettings.model_validate(
        {
            "name": "s",
            "url": "https://s.example/mcp",
            "auth": mode,
            "scope": "api://s/.default",
            "oauth_authorize_url": "https://auth.s.example/authorize",
            "oauth_token_url": "https://auth.s.example/token",
            "oauth_client_id": "c",
        }
    )
    auth = World().credentials.auth_for(server)
    assert (auth.sends_credentials, auth.connect) == (sends, connect)
