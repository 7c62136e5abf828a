"""After sign-in: refreshing re-checks the user at the identity provider, and two windows refreshing
at once both keep working. Over HTTP against a hub whose facade signs in at the local authority,
where the tests change the account as an Entra administrator would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import anyio
import httpx
import jwt
import pytest

from infra.oidc import LocalAuthority
from infra.processes import Child
from tests.e2e.clients import signed_in_hub
from tests.e2e.test_oauth_facade import Browser, _pkce
from tests.redirect_corpus import REGISTERED
from tests.wire import HEADERS, INIT

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, storage_connection_string: str) -> Iterator[dict[str, Any]]:
    env = {"AzureWebJobsStorage": storage_connection_string, "MCPHUB_AUTH__REGISTRATIONS_PER_HOUR": "1000"}
    directory = Path(tmp_path_factory.mktemp("lifecycle"))
    with signed_in_hub(directory, "hub-lifecycle", env, facade=True, upstreams=("notes",)) as w:
        yield w


def sign_in(world: dict[str, Any], account: str, path: str = "/mcp") -> dict[str, Any]:
    """An IDE's sign-in as `account` (a login hint): registration, authorize, code for tokens."""
    hub: Child = world["hub"]
    registered = httpx.post(f"{hub.url}/oauth/register", json={"redirect_uris": [REGISTERED]})
    assert registered.status_code == 201, registered.text
    client_id = registered.json()["client_id"]
    verifier, challenge = _pkce()
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REGISTERED,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "resource": f"{hub.url}{path}",
    }
    landed = Browser(world["authority"], account).follow(f"{hub.url}/oauth/authorize?{urlencode(query)}")
    code = parse_qs(urlsplit(landed).query)["code"][0]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": client_id,
        "redirect_uri": REGISTERED,
        "code_verifier": verifier,
    }
    tokens = httpx.post(f"{hub.url}/oauth/token", data=form)
    assert tokens.status_code == 200, tokens.text
    return {**tokens.json(), "client_id": client_id}


def refresh(hub: Child, signed: dict[str, Any]) -> httpx.Response:
    form = {"grant_type": "refresh_token", "refresh_token": signed["refresh_token"], "client_id": signed["client_id"]}
    return httpx.post(f"{hub.url}/oauth/token", data=form)


def roles_of(access_token: str) -> list[str]:
    return jwt.decode(access_token, options={"verify_signature": False})["roles"]


async def test_two_windows_refreshing_at_once_both_get_the_same_new_pair(world: dict[str, Any]) -> None:
    hub: Child = world["hub"]
    signed = sign_in(world, "wendy@tenant-a")
    form = {"grant_type": "refresh_token", "refresh_token": signed["refresh_token"], "client_id": signed["client_id"]}
    replies: list[httpx.Response] = []

    async def window() -> None:
        async with httpx.AsyncClient(timeout=30) as http:
            replies.append(await http.post(f"{hub.url}/oauth/token", data=form))

    async with anyio.create_task_group() as group:
        group.start_soon(window)
        group.start_soon(window)
    assert [r.status_code for r in replies] == [200, 200], [r.text for r in replies]
    first, second = (r.json() for r in replies)
    assert first["refresh_token"] == second["refresh_token"]
    assert first["access_token"] == second["access_token"]
    # The sign-in goes on: the shared new refresh token works (once more, for both windows).
    assert refresh(hub, {**signed, "refresh_token": first["refresh_token"]}).status_code == 200


def test_a_removed_role_is_gone_from_the_token_at_the_next_refresh(world: dict[str, Any]) -> None:
    hub: Child = world["hub"]
    authority: LocalAuthority = world["authority"]
    signed = sign_in(world, "rita@tenant-a#Hub.User,Hub.Admin")
    assert roles_of(signed["access_token"]) == ["Hub.User", "Hub.Admin"]
    ops = httpx.get(f"{hub.url}/ops/whoami", headers={"Authorization": f"Bearer {signed['access_token']}"})
    assert ops.status_code == 200
    authority.change_account("rita@tenant-a", roles=("Hub.User",))
    renewed = refresh(hub, signed)
    assert renewed.status_code == 200, renewed.text
    assert roles_of(renewed.json()["access_token"]) == ["Hub.User"]
    audit = httpx.get(f"{hub.url}/ops/audit", headers={"Authorization": f"Bearer {renewed.json()['access_token']}"})
    assert audit.status_code == 404  # what a non-admin gets: the trail does not exist for them


def test_a_disabled_account_cannot_refresh_and_its_sign_in_is_ended(world: dict[str, Any]) -> None:
    hub: Child = world["hub"]
    authority: LocalAuthority = world["authority"]
    signed = sign_in(world, "dora@tenant-a")
    renewed = refresh(hub, signed)
    assert renewed.status_code == 200
    authority.change_account("dora@tenant-a", disabled=True)
    refused = refresh(hub, {**signed, "refresh_token": renewed.json()["refresh_token"]})
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")
    authority.change_account("dora@tenant-a", disabled=False)
    # The whole sign-in was revoked, not just that one attempt: no token of it works again.
    again = refresh(hub, {**signed, "refresh_token": renewed.json()["refresh_token"]})
    assert again.status_code == 400


# ---- one resource, one name -----------------------------------------------------------------------

LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}


def _post(hub: Child, path: str, token: str) -> httpx.Response:
    headers = {**HEADERS, "Authorization": f"Bearer {token}"}
    return httpx.post(f"{hub.url}{path}", json=INIT, headers=headers)


@pytest.mark.parametrize(
    ("path", "works_on", "refused_on"), [("/mcp", "/mcp", "/mcp/notes"), ("/mcp/notes", "/mcp/notes", "/mcp")]
)
def test_a_token_works_only_on_the_endpoint_it_was_issued_for(
    world: dict[str, Any], path: str, works_on: str, refused_on: str
) -> None:
    hub: Child = world["hub"]
    token = sign_in(world, "otto@tenant-a", path)["access_token"]
    assert jwt.decode(token, options={"verify_signature": False})["aud"] == f"{hub.url}{path}"
    assert _post(hub, works_on, token).status_code == 200
    refused = _post(hub, refused_on, token)
    assert refused.status_code == 401
    assert (
        f'resource_metadata="{hub.url}/.well-known/oauth-protected-resource{refused_on}"'
        in (refused.headers["www-authenticate"])
    )


def test_metadata_challenge_and_tokens_name_one_scope_and_each_endpoint_its_own_resource(world: dict[str, Any]) -> None:
    hub: Child = world["hub"]
    server = httpx.get(f"{hub.url}/.well-known/oauth-authorization-server").json()
    scope = server["scopes_supported"][0]
    for path in ("/mcp", "/mcp/notes"):
        resource = httpx.get(f"{hub.url}/.well-known/oauth-protected-resource{path}").json()
        assert resource["resource"] == f"{hub.url}{path}"
        assert resource["scopes_supported"] == [scope]
        challenge = httpx.post(f"{hub.url}{path}", json=INIT, headers=HEADERS).headers["www-authenticate"]
        assert f'scope="{scope}"' in challenge
    assert sign_in(world, "sam@tenant-a")["scope"] == scope
    client_id = httpx.post(f"{hub.url}/oauth/register", json={"redirect_uris": [REGISTERED]}).json()["client_id"]
    for elsewhere in ("/elsewhere", "/mcp/notes/extra", "/mcp/../ops"):
        query = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REGISTERED,
            "code_challenge": _pkce()[1],
            "code_challenge_method": "S256",
            "resource": f"{hub.url}{elsewhere}",
        }
        refused = httpx.get(f"{hub.url}/oauth/authorize", params=query)
        assert refused.status_code == 302
        assert "error=invalid_target" in refused.headers["location"]
