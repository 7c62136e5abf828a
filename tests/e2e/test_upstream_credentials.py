"""Each user's own upstream credential: connect through the hub's page, calls carry only that user's
token, a refused token is forgotten with a request to reconnect, and nothing is stored in clear."""

from __future__ import annotations

import hashlib
import html
import re
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import anyio
import httpx
import mcp_types as types
import pytest
from azure.data.tables import TableClient

from infra.oidc import LocalAuthority
from infra.processes import Child
from tests.e2e.clients import audit_items, client_for, signed_in_hub

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
    with signed_in_hub(directory, "hub-credentials", env, facade=True, upstreams=("secured",)) as world:
        yield world


def fingerprint(token: str) -> str:
    return "token:" + hashlib.sha256(token.encode()).hexdigest()[:16]


def text(result: types.CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text


def browser_for(authority: LocalAuthority) -> httpx.AsyncClient:
    """A browser: keeps cookies, follows redirects, trusts the local authority's certificate."""
    return httpx.AsyncClient(verify=ssl.create_default_context(cafile=authority.ca_file), follow_redirects=True)


async def open_link(browser: httpx.AsyncClient, link: str, account: str) -> httpx.Response:
    """Open a connect link and sign in (at the local authority) as `account` (`<oid>@<tid>`)."""
    return await browser.get(f"{link}&{urlencode({'login_hint': account})}")


def form_grant(page: httpx.Response) -> str:
    found = re.search(r'name="grant" value="([^"]+)"', page.text)
    assert found is not None, page.text
    return html.unescape(found.group(1))


async def connect(
    world: dict[str, Any], link: str, token: str, account: str, *, replace: bool = False
) -> httpx.Response:
    """What the user does in the browser: open the link, sign in, paste the token, submit."""
    async with browser_for(world["authority"]) as browser:
        page = await open_link(browser, link, account)
        assert page.status_code == 200, page.text
        assert 'type="password"' in page.text
        form = {"grant": form_grant(page), "token": token, **({"replace": "yes"} if replace else {})}
        return await browser.post(link.split("?")[0], data=form)


async def ask_for_link(hub: Child, user_token: str) -> str:
    async with client_for(f"{hub.url}/mcp", user_token) as client:
        result = await client.call_tool("secured__whoami", {})
    assert result.is_error
    match = re.search(r"(http://\S+/connect/secured\?ticket=\S+)", text(result))
    assert match is not None, text(result)
    return match.group(1)


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_an_unconnected_server_offers_a_connect_tool_that_answers_with_the_link(
    hub_with_secured: dict[str, Any], mode: str
) -> None:
    hub: Child = hub_with_secured["hub"]
    token = hub_with_secured["authority"].mint(tenant="tenant-a", user="newcomer")
    # The tool error is a result, framed as each era frames results (2026-07-28: resultType).
    async with client_for(f"{hub.url}/mcp", token, mode) as client:
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
        link = await ask_for_link(hub, hub_tokens[name])
        assert (await connect(hub_with_secured, link, upstream_token, f"{name}@tenant-a")).status_code == 200
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
    link = await ask_for_link(hub, token)
    assert (await connect(hub_with_secured, link, "revoked-by-the-upstream", "carol@tenant-a")).status_code == 200
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
        assert (await browser.get(f"{hub.url}/connect/secured?ticket={forged}")).status_code == 400
        assert (
            await browser.post(f"{hub.url}/connect/secured", data={"grant": forged, "token": "x"})
        ).status_code == 400
        assert (await browser.get(f"{hub.url}/connect/notes?ticket={ticket}")).status_code == 404


async def test_credentials_are_stored_sealed_never_in_clear(
    hub_with_secured: dict[str, Any], storage_connection_string: str
) -> None:
    hub: Child = hub_with_secured["hub"]
    secret = "ghp_erin_never_in_clear"
    link = await ask_for_link(hub, hub_with_secured["authority"].mint(tenant="tenant-a", user="erin"))
    assert (await connect(hub_with_secured, link, secret, "erin@tenant-a")).status_code == 200
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


# ---- who may use a connect link -----------------------------------------------------------------


async def audited(world: dict[str, Any], event: str, user: str) -> list[dict[str, Any]]:
    admin = world["authority"].mint(tenant="tenant-a", user="auditor", roles=("Hub.User", "Hub.Admin"))
    return await audit_items(world["hub"].url, admin, event, user=user)


async def test_a_link_opened_by_another_user_connects_nothing(
    hub_with_secured: dict[str, Any], storage_connection_string: str
) -> None:
    """The attacker sends the victim his own link: the victim signs in as herself and is refused."""
    hub: Child = hub_with_secured["hub"]
    link = await ask_for_link(hub, hub_with_secured["authority"].mint(tenant="tenant-a", user="mallory"))
    async with browser_for(hub_with_secured["authority"]) as browser:
        page = await open_link(browser, link, "victim@tenant-a")
    assert page.status_code == 403
    assert "You are signed in as <strong>victim@tenant-a</strong>" in page.text
    assert 'type="password"' not in page.text
    assert stored_credential(storage_connection_string, "tenant-a:mallory") is None
    refused = await audited(hub_with_secured, "credential.connect_refused", "tenant-a:victim")
    assert refused[0]["server"] == "secured"


async def test_the_page_names_the_account_and_the_server(hub_with_secured: dict[str, Any]) -> None:
    hub: Child = hub_with_secured["hub"]
    link = await ask_for_link(hub, hub_with_secured["authority"].mint(tenant="tenant-a", user="fred"))
    async with browser_for(hub_with_secured["authority"]) as browser:
        page = await open_link(browser, link, "fred@tenant-a")
    assert page.status_code == 200
    assert "Signed in as <strong>fred@tenant-a</strong> (<code>tenant-a:fred</code>)" in page.text
    assert "This connects <strong>secured</strong> to that account only" in page.text
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


async def test_a_link_is_single_use(hub_with_secured: dict[str, Any]) -> None:
    hub: Child = hub_with_secured["hub"]
    link = await ask_for_link(hub, hub_with_secured["authority"].mint(tenant="tenant-a", user="gina"))
    assert (await connect(hub_with_secured, link, "gina-first", "gina@tenant-a")).status_code == 200
    async with browser_for(hub_with_secured["authority"]) as browser:
        again = await open_link(browser, link, "gina@tenant-a")
    assert again.status_code == 400
    assert "used already" in again.text


async def test_a_form_is_bound_to_the_browser_that_signed_in(hub_with_secured: dict[str, Any]) -> None:
    hub: Child = hub_with_secured["hub"]
    link = await ask_for_link(hub, hub_with_secured["authority"].mint(tenant="tenant-a", user="hal"))
    async with browser_for(hub_with_secured["authority"]) as browser:
        grant = form_grant(await open_link(browser, link, "hal@tenant-a"))
    async with httpx.AsyncClient() as other_browser:  # a cross-site post carries no SameSite=Lax cookie
        posted = await other_browser.post(f"{hub.url}/connect/secured", data={"grant": grant, "token": "x"})
    assert posted.status_code == 400


async def test_replacing_a_credential_needs_an_explicit_choice_and_is_audited(
    hub_with_secured: dict[str, Any], storage_connection_string: str
) -> None:
    hub: Child = hub_with_secured["hub"]
    token = hub_with_secured["authority"].mint(tenant="tenant-a", user="ivy")
    first, second = await ask_for_link(hub, token), await ask_for_link(hub, token)  # e.g. two IDE windows
    assert (await connect(hub_with_secured, first, "ivy-1", "ivy@tenant-a")).status_code == 200
    before = stored_credential(storage_connection_string, "tenant-a:ivy")
    kept = await connect(hub_with_secured, second, "ivy-2", "ivy@tenant-a")
    assert kept.status_code == 409
    assert stored_credential(storage_connection_string, "tenant-a:ivy") == before
    replaced = await connect(hub_with_secured, second, "ivy-2", "ivy@tenant-a", replace=True)
    assert replaced.status_code == 200
    assert stored_credential(storage_connection_string, "tenant-a:ivy") != before
    assert (await audited(hub_with_secured, "credential.replaced", "tenant-a:ivy"))[0]["server"] == "secured"
