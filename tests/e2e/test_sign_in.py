"""Entra-style sign-in at the hub, against a real OIDC authority on this machine (oauth2-mock-server
over HTTPS, real RS256 keys): discovery, refusals with the right challenge, per-user isolation
and role-based visibility, with the real MCP SDK client presenting the tokens."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra.oidc import LocalAuthority
from infra.processes import Child
from tests.e2e.clients import client_for, signed_in_hub
from tests.wire import HEADERS, INIT

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


@pytest.fixture(scope="module")
def signed_in(
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
        "MCPHUB_SERVER_VAULT__URL": f"{notes_upstream.url}/mcp",  # notes again, behind an auth context
        "MCPHUB_SERVER_VAULT__AUTH_CONTEXT": "c1",
    }
    directory = Path(tmp_path_factory.mktemp("sign-in"))
    with signed_in_hub(directory, "hub-sign-in", env, tenants=("tenant-a", "tenant-b")) as world:
        yield world


def bearer(token: str) -> dict[str, str]:
    return {**HEADERS, "Authorization": f"Bearer {token}"}


def test_a_request_without_a_token_gets_401_pointing_at_the_resource_metadata(signed_in: dict[str, Any]) -> None:
    hub: Child = signed_in["hub"]
    response = httpx.post(f"{hub.url}/mcp/clock", json=INIT, headers=HEADERS)
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'resource_metadata="{hub.url}/.well-known/oauth-protected-resource/mcp/clock"' in challenge
    assert 'scope="api://mcphub-local/MCP.Access"' in challenge


def test_the_resource_metadata_names_the_mcp_url_and_the_tenant_authority(signed_in: dict[str, Any]) -> None:
    hub: Child = signed_in["hub"]
    authority: LocalAuthority = signed_in["authority"]
    metadata = httpx.get(f"{hub.url}/.well-known/oauth-protected-resource/mcp").json()
    assert metadata["resource"] == f"{hub.url}/mcp"
    assert metadata["authorization_servers"] == [f"{authority.origin}/tenant-a/v2.0"]
    assert metadata["scopes_supported"] == ["api://mcphub-local/MCP.Access"]
    per_server = httpx.get(f"{hub.url}/.well-known/oauth-protected-resource/mcp/notes").json()
    assert per_server["resource"] == f"{hub.url}/mcp/notes"


@pytest.mark.parametrize(
    ("claims", "status", "error"),
    [
        ({"exp": 1_000_000_000}, 401, "invalid_token"),
        ({"aud": "https://github-mcp.example/mcp"}, 401, "invalid_token"),
        ({"tid": "tenant-x"}, 401, "invalid_token"),
        ({"oid": None}, 401, "invalid_token"),
        ({"scp": "User.Read"}, 403, "insufficient_scope"),
    ],
    ids=["expired", "meant-for-an-upstream", "tenant-not-allowed", "no-user", "missing-scope"],
)
def test_a_token_the_hub_must_not_accept_gets_the_matching_challenge(
    signed_in: dict[str, Any], claims: dict[str, Any], status: int, error: str
) -> None:
    hub: Child = signed_in["hub"]
    token = signed_in["authority"].mint(tenant=claims.pop("tid", "tenant-a"), user="mallory", **claims)
    response = httpx.post(f"{hub.url}/mcp", json=INIT, headers=bearer(token))
    assert response.status_code == status
    assert f'error="{error}"' in response.headers["www-authenticate"]
    assert "mallory" not in response.text


async def test_a_signed_in_user_lists_and_calls_tools_with_the_sdk_client(signed_in: dict[str, Any]) -> None:
    hub: Child = signed_in["hub"]
    token = signed_in["authority"].mint(tenant="tenant-a", user="alice")
    for mode in ("legacy", "2026-07-28"):
        async with client_for(f"{hub.url}/mcp", token, mode) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            result = await client.call_tool("notes__echo", {"text": "signed in"})
        assert "notes__echo" in names
        assert not any(name.startswith("clock__") for name in names)  # clock is for Hub.Admin
        assert not result.is_error


async def test_an_admin_sees_the_role_restricted_server(signed_in: dict[str, Any]) -> None:
    hub: Child = signed_in["hub"]
    admin = signed_in["authority"].mint(tenant="tenant-b", user="root", roles=("Hub.Admin",))
    async with client_for(f"{hub.url}/mcp", admin) as client:
        assert "clock__now" in {tool.name for tool in (await client.list_tools()).tools}


def test_a_role_restricted_server_answers_a_user_without_the_role_like_a_missing_one(
    signed_in: dict[str, Any],
) -> None:
    hub: Child = signed_in["hub"]
    user = signed_in["authority"].mint(tenant="tenant-a", user="alice")
    forbidden = httpx.post(f"{hub.url}/mcp/clock", json=INIT, headers=bearer(user))
    missing = httpx.post(f"{hub.url}/mcp/no-such-server", json=INIT, headers=bearer(user))
    assert forbidden.status_code == missing.status_code == 404
    assert forbidden.json()["error"]["code"] == missing.json()["error"]["code"]


def test_another_users_session_id_gets_the_same_404_as_an_unknown_one(signed_in: dict[str, Any]) -> None:
    hub: Child = signed_in["hub"]
    authority: LocalAuthority = signed_in["authority"]
    alice, bob = authority.mint(tenant="tenant-a", user="alice"), authority.mint(tenant="tenant-a", user="bob")
    session = httpx.post(f"{hub.url}/mcp", json=INIT, headers=bearer(alice)).headers["mcp-session-id"]
    ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}

    def ping_as(token: str, session_id: str) -> httpx.Response:
        headers = {**bearer(token), "Mcp-Session-Id": session_id, "MCP-Protocol-Version": "2025-11-25"}
        return httpx.post(f"{hub.url}/mcp", json=ping, headers=headers)

    assert ping_as(alice, session).status_code == 200
    stolen, unknown = ping_as(bob, session), ping_as(bob, "0" * 32)
    assert stolen.status_code == unknown.status_code == 404
    assert stolen.json() == unknown.json()


def test_a_server_behind_an_auth_context_answers_with_entras_claims_challenge(signed_in: dict[str, Any]) -> None:
    hub: Child = signed_in["hub"]
    authority: LocalAuthority = signed_in["authority"]
    plain = authority.mint(tenant="tenant-a", user="alice")
    refused = httpx.post(f"{hub.url}/mcp/vault", json=INIT, headers=bearer(plain))
    assert refused.status_code == 401
    challenge = refused.headers["www-authenticate"]
    assert 'error="insufficient_claims"' in challenge
    claims = challenge.split('claims="')[1].split('"')[0]
    assert json.loads(base64.b64decode(claims)) == {"access_token": {"acrs": {"essential": True, "value": "c1"}}}
    stepped_up = authority.mint(tenant="tenant-a", user="alice", acrs=["c1"])
    assert httpx.post(f"{hub.url}/mcp/vault", json=INIT, headers=bearer(stepped_up)).status_code == 200


async def test_aggregated_tools_of_a_step_up_server_need_the_auth_context(signed_in: dict[str, Any]) -> None:
    hub: Child = signed_in["hub"]
    authority: LocalAuthority = signed_in["authority"]
    async with client_for(f"{hub.url}/mcp", authority.mint(tenant="tenant-a", user="alice")) as client:
        plain = {tool.name for tool in (await client.list_tools()).tools}
    async with client_for(f"{hub.url}/mcp", authority.mint(tenant="tenant-a", user="alice", acrs=["c1"])) as client:
        stepped_up = {tool.name for tool in (await client.list_tools()).tools}
        echoed = await client.call_tool("vault__echo", {"text": "after MFA"})
    assert "vault__echo" not in plain
    assert "vault__echo" in stepped_up
    assert not echoed.is_error


def test_calling_a_step_up_servers_tool_without_the_auth_context_gets_the_challenge_mid_session(
    signed_in: dict[str, Any],
) -> None:
    hub: Child = signed_in["hub"]
    headers = bearer(signed_in["authority"].mint(tenant="tenant-a", user="alice"))
    session = httpx.post(f"{hub.url}/mcp", json=INIT, headers=headers).headers["mcp-session-id"]
    headers = {**headers, "Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"}
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "vault__echo", "arguments": {}}}
    response = httpx.post(f"{hub.url}/mcp", json=call, headers=headers)
    assert response.status_code == 401
    assert 'error="insufficient_claims"' in response.headers["www-authenticate"]
