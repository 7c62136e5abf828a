"""Each user's own upstream credential: connect through the hub's page, calls carry only that user's
token, a refused token is forgotten with a request to reconnect, and nothing is stored in clear."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx
import mcp_types as types
import pytest
from azure.data.tables import TableClient

from infra.oidc import LocalAuthority
from infra.processes import Child
from tests.e2e.clients import client_for, signed_in_hub

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]
GRANTS_TABLE = "credentialtests"


@pytest.fixture(scope="module")
def hub_with_secured(
    tmp_path_factory: pytest.TempPathFactory, storage_connection_string: str, notes_upstream: Child
) -> Iterator[dict[str, Any]]:
    env = {
        "AzureWebJobsStorage": storage_connection_string,
        "MCPHUB_GRANTS_TABLE": GRANTS_TABLE,
        "MCPHUB_SERVER_NOTES__URL": f"{notes_upstream.url}/mcp",
        "MCPHUB_SERVER_SECURED__AUTH": "user_token",
    }
    directory = Path(tmp_path_factory.mktemp("credentials"))
    with signed_in_hub(directory, "hub-credentials", env, upstreams=("secured",)) as world:
        yield world


def fingerprint(token: str) -> str:
    return "token:" + hashlib.sha256(token.encode()).hexdigest()[:16]


def text(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


async def connect(link: str, token: str) -> httpx.Response:
    """What the user does in the browser: open the link, paste the token, submit."""
    async with httpx.AsyncClient() as browser:
        page = await browser.get(link)
        assert page.status_code == 200
        assert 'type="password"' in page.text
        ticket = parse_qs(urlsplit(link).query)["ticket"][0]
        return await browser.post(link.split("?")[0], data={"ticket": ticket, "token": token})


async def ask_for_link(hub: Child, user_token: str) -> str:
    async with client_for(f"{hub.url}/mcp", user_token) as client:
        result = await client.call_tool("secured__whoami", {})
    assert result.is_error
    match = re.search(r"(http://\S+/connect/secured\?ticket=\S+)", text(result))
    assert match is not None, text(result)
    return match.group(1)


async def test_an_unconnected_server_offers_a_connect_tool_that_answers_with_the_link(
    hub_with_secured: dict[str, Any],
) -> None:
    hub: Child = hub_with_secured["hub"]
    token = hub_with_secured["authority"].mint(tenant="tenant-a", user="newcomer")
    async with client_for(f"{hub.url}/mcp", token) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        result = await client.call_tool("secured__connect_account", {})
    assert "secured__connect_account" in names
    assert "secured__whoami" not in names
    assert "notes__echo" in names
    assert result.is_error
    assert f"{hub.url}/connect/secured?ticket=" in text(result)


async def test_each_user_calls_the_upstream_with_only_their_own_token(hub_with_secured: dict[str, Any]) -> None:
    hub: Child = hub_with_secured["hub"]
    authority: LocalAuthority = hub_with_secured["authority"]
    users = {"alice": "ghp_alice_secret_1", "bob": "ghp_bob_secret_2"}
    hub_tokens = {name: authority.mint(tenant="tenant-a", user=name) for name in users}
    for name, upstream_token in users.items():
        assert (await connect(await ask_for_link(hub, hub_tokens[name]), upstream_token)).status_code == 200
    seen: dict[str, set[str]] = {name: set() for name in users}

    async def calls(name: str) -> None:
        async with client_for(f"{hub.url}/mcp", hub_tokens[name]) as client:
            for _ in range(5):
                seen[name].add(text(await client.call_tool("secured__whoami", {})))

    async with anyio.create_task_group() as group:
        for name in users:
            group.start_soon(calls, name)
    assert seen == {name: {fingerprint(token)} for name, token in users.items()}


async def test_a_token_the_upstream_refuses_is_forgotten_and_the_user_is_asked_to_reconnect(
    hub_with_secured: dict[str, Any], storage_connection_string: str
) -> None:
    hub: Child = hub_with_secured["hub"]
    token = hub_with_secured["authority"].mint(tenant="tenant-a", user="carol")
    assert (await connect(await ask_for_link(hub, token), "revoked-by-the-upstream")).status_code == 200
    assert stored_credential(storage_connection_string, "tenant-a:carol") is not None
    async with client_for(f"{hub.url}/mcp", token) as client:
        # The SDK lists tools before calling one: that first use meets the upstream's 401.
        refused = await client.call_tool("secured__whoami", {})
    assert refused.is_error
    assert "/connect/secured?ticket=" in text(refused)
    assert stored_credential(storage_connection_string, "tenant-a:carol") is None


def stored_credential(connection: str, user: str) -> dict[str, Any] | None:
    with TableClient.from_connection_string(connection, table_name=GRANTS_TABLE) as table:
        rows = [dict(e) for e in table.query_entities("PartitionKey eq 'credential'")]
    found = [row for row in rows if row["K"] == f"{user}|secured"]
    return found[0] if found else None


async def test_a_connect_link_works_only_for_its_server_and_cannot_be_forged(hub_with_secured: dict[str, Any]) -> None:
    hub: Child = hub_with_secured["hub"]
    link = await ask_for_link(hub, hub_with_secured["authority"].mint(tenant="tenant-a", user="dave"))
    ticket = parse_qs(urlsplit(link).query)["ticket"][0]
    forged = ticket[:-6] + ("AAAAAA" if not ticket.endswith("AAAAAA") else "BBBBBB")
    async with httpx.AsyncClient() as browser:
        assert (
            await browser.post(f"{hub.url}/connect/secured", data={"ticket": forged, "token": "x"})
        ).status_code == 400
        assert (await browser.get(f"{hub.url}/connect/notes?ticket={ticket}")).status_code == 404


async def test_credentials_are_stored_sealed_never_in_clear(
    hub_with_secured: dict[str, Any], storage_connection_string: str
) -> None:
    hub: Child = hub_with_secured["hub"]
    secret = "ghp_erin_never_in_clear"
    link = await ask_for_link(hub, hub_with_secured["authority"].mint(tenant="tenant-a", user="erin"))
    assert (await connect(link, secret)).status_code == 200
    stored = stored_credential(storage_connection_string, "tenant-a:erin")
    assert stored is not None
    assert secret not in str(stored)
    assert str(stored["V"]).startswith('{"sealed": "v1.')


@pytest.fixture(scope="module")
def hub_with_obo(tmp_path_factory: pytest.TempPathFactory, storage_connection_string: str) -> Iterator[dict[str, Any]]:
    env = {
        "AzureWebJobsStorage": storage_connection_string,
        "MCPHUB_SERVER_SECURED__AUTH": "obo",
        "MCPHUB_SERVER_SECURED__SCOPE": "api://secured-upstream/.default",
    }
    directory = Path(tmp_path_factory.mktemp("obo"))
    with signed_in_hub(directory, "hub-obo", env, facade=True, upstreams=("secured",)) as world:
        yield world


async def test_an_on_behalf_of_server_gets_a_token_exchanged_for_each_user_never_the_users_own(
    hub_with_obo: dict[str, Any],
) -> None:
    hub: Child = hub_with_obo["hub"]
    authority: LocalAuthority = hub_with_obo["authority"]
    tokens = {name: authority.mint(tenant="tenant-a", user=name) for name in ("alice", "bob")}
    seen: dict[str, set[str]] = {}
    for name, token in tokens.items():
        async with client_for(f"{hub.url}/mcp", token) as client:
            seen[name] = {text(await client.call_tool("secured__whoami", {})) for _ in range(3)}
    assert all(len(prints) == 1 for prints in seen.values())  # one exchanged token per user
    assert seen["alice"] != seen["bob"]
    assert not {fingerprint(token) for token in tokens.values()} & (seen["alice"] | seen["bob"])
