"""Who may register with the OAuth facade, where codes may be sent, and client metadata documents."""

from __future__ import annotations

import httpx
import pytest

from shared.identity.clients import Client, ClientError, ClientRegistry, check_redirect_uri
from shared.identity.grants import MemoryGrantStore
from shared.identity.public_fetch import PublicFetcher
from shared.limits.budget import MemoryBudgetStore
from shared.limits.registrations import RegistrationLimiter
from shared.redirects import loopback_origin
from tests.redirect_corpus import CORPUS, REGISTERED

pytestmark = pytest.mark.anyio
SCHEMES = ("cursor", "vscode")


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1:33418/callback",
        "http://localhost:6274/oauth/callback",
        "http://[::1]:9000/cb",
        "cursor://anysphere.cursor-mcp/oauth/callback",
        "https://vscode.dev/redirect",
    ],
)
def test_loopback_ide_scheme_and_listed_web_redirects_are_accepted(uri: str) -> None:
    assert check_redirect_uri(uri, SCHEMES) == uri


@pytest.mark.parametrize(
    "uri",
    [
        "https://evil.example/callback",
        "http://10.0.0.5/callback",
        "http://127.0.0.1.evil.example/cb",
        "javascript:alert(1)",
        "data:text/html,hi",
        "http://127.0.0.1:1/cb#fragment",
        "",
    ],
)
def test_other_redirects_are_refused(uri: str) -> None:
    with pytest.raises(ClientError) as refused:
        check_redirect_uri(uri, SCHEMES)
    assert refused.value.error == "invalid_redirect_uri"


def test_a_loopback_redirect_may_change_port_but_not_host_or_path() -> None:
    client = Client("c", ("http://127.0.0.1:33418/callback",))
    assert client.redirect_allowed("http://127.0.0.1:50123/callback")
    assert not client.redirect_allowed("http://127.0.0.1:50123/other")
    assert not client.redirect_allowed("http://localhost:33418/callback")
    assert not Client("c", ("cursor://x/cb",)).redirect_allowed("cursor://x/cb2")


async def test_a_registered_client_is_found_by_its_id_and_an_unknown_one_is_not() -> None:
    registry = ClientRegistry(MemoryGrantStore(), clock=lambda: 1000.0, schemes=SCHEMES)
    registration = await registry.register({"redirect_uris": ["http://127.0.0.1:1/cb"], "client_name": "Cursor"})
    assert registration["token_endpoint_auth_method"] == "none"
    found = await registry.get(registration["client_id"])
    assert found == Client(registration["client_id"], ("http://127.0.0.1:1/cb",), "Cursor")
    assert await registry.get("mcphub-nope") is None


@pytest.mark.parametrize(
    "metadata",
    [[], {"redirect_uris": []}, {"redirect_uris": "http://127.0.0.1/cb"}, {"redirect_uris": ["x"] * 11}],
)
async def test_malformed_registrations_are_refused(metadata: object) -> None:
    registry = ClientRegistry(MemoryGrantStore(), clock=lambda: 1000.0, schemes=SCHEMES)
    with pytest.raises(ClientError):
        await registry.register(metadata)


def _registry(document: object, status: int = 200) -> tuple[ClientRegistry, list[str]]:
    fetched: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        fetched.append(str(request.url))
        return httpx.Response(status, json=document)

    async def resolve(host: str, port: int) -> list[str]:
        return {"client.example": ["93.184.215.14"]}.get(host, ["10.0.0.1"])

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    fetcher = PublicFetcher(http, resolver=resolve)
    return ClientRegistry(MemoryGrantStore(), clock=lambda: 1000.0, schemes=SCHEMES, fetch=fetcher), fetched


async def test_a_client_id_metadata_document_is_fetched_and_cached() -> None:
    url = "https://client.example/oauth/metadata.json"
    registry, fetched = _registry({"client_id": url, "client_name": "Tool", "redirect_uris": ["http://127.0.0.1/cb"]})
    assert await registry.get(url) == Client(url, ("http://127.0.0.1/cb",), "Tool")
    await registry.get(url)
    assert fetched == ["https://93.184.215.14/oauth/metadata.json"]


@pytest.mark.parametrize(
    ("url", "document"),
    [
        (
            "https://client.example/m.json",
            {"client_id": "https://other.example/m.json", "redirect_uris": ["http://127.0.0.1/cb"]},
        ),
        (
            "https://client.example/m.json",
            {"client_id": "https://client.example/m.json", "redirect_uris": ["https://evil/cb"]},
        ),
        (
            "https://127.0.0.1/m.json",
            {"client_id": "https://127.0.0.1/m.json", "redirect_uris": ["http://127.0.0.1/cb"]},
        ),
        ("https://10.1.2.3/m.json", {"client_id": "https://10.1.2.3/m.json", "redirect_uris": ["http://127.0.0.1/cb"]}),
        ("https://client.example/", {"client_id": "https://client.example/", "redirect_uris": ["http://127.0.0.1/cb"]}),
    ],
    ids=["id-mismatch", "bad-redirect", "loopback-host", "private-address", "no-path"],
)
async def test_unusable_metadata_documents_and_internal_addresses_are_refused(url: str, document: object) -> None:
    registry, _ = _registry(document)
    assert await registry.get(url) is None


async def test_registrations_are_limited_per_address_per_hour_and_for_everyone() -> None:
    now = [0.0]
    limiter = RegistrationLimiter(MemoryBudgetStore(), per_hour=2, per_day=3, overall_per_day=4, clock=lambda: now[0])
    assert await limiter.retry_after("1.2.3.4") == 0
    assert await limiter.retry_after("1.2.3.4") == 0
    assert 0 < await limiter.retry_after("1.2.3.4") <= 3601
    assert await limiter.retry_after("5.6.7.8") == 0
    now[0] = 3601.0
    assert await limiter.retry_after("1.2.3.4") == 0  # a new hour
    assert await limiter.retry_after("1.2.3.4") > 3600  # but the day's 3 are spent
    assert await limiter.retry_after("9.9.9.9") > 0  # and everyone's 4 are too


@pytest.mark.parametrize(("uri", "registrable"), [(u, r) for u, r, _ in CORPUS], ids=[w for _, _, w in CORPUS])
def test_the_hostile_redirect_corpus_is_refused_and_never_matches_the_registered_uri(
    uri: str, registrable: bool
) -> None:
    if registrable:
        assert check_redirect_uri(uri, SCHEMES) == uri
    else:
        with pytest.raises(ClientError):
            check_redirect_uri(uri, SCHEMES)
    assert not Client("c", (REGISTERED,)).redirect_allowed(uri)


async def test_a_redirect_stored_before_the_rules_is_no_longer_usable() -> None:
    grants = MemoryGrantStore()
    hostile = "http://evil.example\\@127.0.0.1:1/cb"
    record = {"redirect_uris": [hostile, "http://127.0.0.1:1/cb"], "name": "old"}
    await grants.add("client", "mcphub-old", record, expires_at=None, now=0.0)
    client = await ClientRegistry(grants, clock=lambda: 1000.0, schemes=SCHEMES).get("mcphub-old")
    assert client is not None
    assert client.redirect_uris == ("http://127.0.0.1:1/cb",)
    assert not client.redirect_allowed(hostile)


async def test_a_registration_never_used_expires_and_one_used_is_kept() -> None:
    now = [1000.0]
    registry = ClientRegistry(MemoryGrantStore(), clock=lambda: now[0], schemes=SCHEMES, unused_seconds=60)
    unused = (await registry.register({"redirect_uris": ["http://127.0.0.1:1/cb"]}))["client_id"]
    used = (await registry.register({"redirect_uris": ["http://127.0.0.1:1/cb"]}))["client_id"]
    await registry.keep(used, until=now[0] + 3600)
    now[0] += 61
    assert await registry.get(unused) is None
    assert await registry.get(used) is not None


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("http://localhost:6274", True),
        ("http://127.0.0.1:3000", True),
        ("http://[::1]:8080", True),
        ("https://localhost", True),
        ("null", False),
        ("http://localhost.evil.example", False),
        ("http://127.0.0.1.nip.io", False),
        ("http://127.1:3000", False),
        ("http://LOCALHOST:3000", False),
        ("http://localhost:3000/", False),
        ("http://evil.example@localhost", False),
        ("http://localhost\\@evil.example", False),
        ("file://localhost", False),
    ],
)
def test_only_serialised_loopback_origins_pass_the_dns_rebinding_check(origin: str, allowed: bool) -> None:
    assert loopback_origin(origin) is allowed
