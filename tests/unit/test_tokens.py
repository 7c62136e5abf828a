"""Entra token verification against a hostile-token corpus; keys served through httpx.MockTransport."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from jwt.utils import base64url_encode

from shared.errors import InsufficientScope, Unauthenticated
from shared.identity.jwks import JwksCache
from shared.identity.tokens import REFUSED, CachedVerifier, EntraTokenVerifier, bearer_token
from shared.principal import Principal
from shared.settings import AuthSettings

pytestmark = pytest.mark.anyio

NOW = 1_800_000_000.0
RESOURCE = "https://hub.test/mcp"
SETTINGS = AuthSettings.model_validate(
    {
        "tenants": "t1,t2",
        "audiences": "api://hub,hub-client-id",
        "issuer": "https://login.test/{tenant}/v2.0",
        "jwks_url": "https://login.test/{tenant}/discovery/v2.0/keys",
        "scope": "MCP.Access",
        "jwks_refresh_seconds": 300,
    }
)
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    public = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    return {**public, "kid": kid, "use": "sig", "alg": "RS256"}


class Authority:
    """The tenant's published keys, and how often they were fetched."""

    def __init__(self) -> None:
        self.keys = [jwk(KEY, "k1")]
        self.fetches = 0
        self.now = NOW

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.fetches += 1
        return httpx.Response(200, json={"keys": self.keys})

    def verifier(self) -> EntraTokenVerifier:
        http = httpx.AsyncClient(transport=httpx.MockTransport(self.handler))
        return EntraTokenVerifier(SETTINGS, JwksCache(http, clock=lambda: self.now, refresh_interval=300))


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": "https://login.test/t1/v2.0",
        "aud": "api://hub",
        "tid": "t1",
        "oid": "user-1",
        "scp": "MCP.Access offline_access",
        "roles": ["Hub.User"],
        "iat": int(NOW) - 60,
        "nbf": int(NOW) - 60,
        "exp": int(NOW) + 3600,
        "preferred_username": "alice@contoso.test",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def mint(key: Any = KEY, kid: str = "k1", alg: str = "RS256", **overrides: Any) -> str:
    return jwt.encode(claims(**overrides), key, algorithm=alg, headers={"kid": kid})


@pytest.fixture
def authority(monkeypatch: pytest.MonkeyPatch) -> Authority:
    authority = Authority()
    # PyJWT checks exp/nbf against the wall clock; pin it to the corpus' "now".
    monkeypatch.setattr(jwt.api_jwt, "datetime", _FrozenDatetime)
    return authority


class _FrozenDatetime:
    @staticmethod
    def now(tz: Any = None) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(NOW, tz=datetime.UTC)


async def test_a_valid_token_gives_the_principal_with_tenant_user_and_roles(authority: Authority) -> None:
    principal = await authority.verifier().verify(mint(), RESOURCE)
    assert principal.key == "t1:user-1"
    assert principal.roles == {"Hub.User"}
    assert principal.name == "alice@contoso.test"


async def test_a_token_for_the_client_id_audience_is_accepted_too(authority: Authority) -> None:
    assert (await authority.verifier().verify(mint(aud="hub-client-id"), RESOURCE)).key == "t1:user-1"


async def test_each_allowed_tenant_is_checked_against_its_own_issuer(authority: Authority) -> None:
    principal = await authority.verifier().verify(mint(tid="t2", iss="https://login.test/t2/v2.0"), RESOURCE)
    assert principal.key == "t2:user-1"


async def test_expiry_within_the_clock_skew_is_tolerated(authority: Authority) -> None:
    assert await authority.verifier().verify(mint(exp=int(NOW) - 30), RESOURCE)


def _none_token() -> str:
    header = base64url_encode(json.dumps({"alg": "none", "kid": "k1", "typ": "JWT"}).encode())
    payload = base64url_encode(json.dumps(claims()).encode())
    return f"{header.decode()}.{payload.decode()}."


def _hs256_with_public_key() -> str:
    pem = KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = base64url_encode(json.dumps({"alg": "HS256", "kid": "k1", "typ": "JWT"}).encode())
    payload = base64url_encode(json.dumps(claims()).encode())
    signing_input = header + b"." + payload
    signature = base64url_encode(hmac.new(pem, signing_input, hashlib.sha256).digest())
    return (signing_input + b"." + signature).decode()


def _tampered() -> str:
    header, _, signature = mint().split(".")
    payload = base64url_encode(json.dumps(claims(roles=["Hub.Admin"])).encode()).decode()
    return f"{header}.{payload}.{signature}"


HOSTILE: dict[str, Callable[[], str]] = {
    "expired": lambda: mint(exp=int(NOW) - 3600),
    "not_yet_valid": lambda: mint(nbf=int(NOW) + 3600),
    "wrong_audience": lambda: mint(aud="api://someone-else"),
    "meant_for_an_upstream": lambda: mint(aud="https://github-mcp.contoso.test"),
    "wrong_issuer": lambda: mint(iss="https://evil.test/t1/v2.0"),
    "issuer_of_another_allowed_tenant": lambda: mint(iss="https://login.test/t2/v2.0"),
    "tenant_not_allowed": lambda: mint(tid="t3", iss="https://login.test/t3/v2.0"),
    "alg_none": _none_token,
    "hs256_signed_with_the_public_key": _hs256_with_public_key,
    "signed_by_another_key": lambda: mint(key=OTHER_KEY),
    "unknown_kid": lambda: mint(key=OTHER_KEY, kid="k-unknown"),
    "tampered_payload": _tampered,
    "no_user": lambda: mint(oid=None),
    "no_expiry": lambda: mint(exp=None),
    "not_a_jwt": lambda: "not-a-token",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
async def test_hostile_token_is_refused_without_saying_why(authority: Authority, name: str) -> None:
    with pytest.raises(Unauthenticated) as refused:
        await authority.verifier().verify(HOSTILE[name](), RESOURCE)
    assert refused.value.message == REFUSED
    assert refused.value.status == 401


async def test_a_token_without_the_required_scope_is_forbidden_not_unauthenticated(authority: Authority) -> None:
    with pytest.raises(InsufficientScope) as refused:
        await authority.verifier().verify(mint(scp="User.Read"), RESOURCE)
    assert refused.value.status == 403
    assert "MCP.Access" in refused.value.message


async def test_unknown_key_ids_refetch_the_keys_at_most_once_per_interval(authority: Authority) -> None:
    verifier = authority.verifier()
    await verifier.verify(mint(), RESOURCE)
    assert authority.fetches == 1
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            await verifier.verify(mint(key=OTHER_KEY, kid="k-made-up"), RESOURCE)
    assert authority.fetches == 2
    authority.now += 301
    with pytest.raises(Unauthenticated):
        await verifier.verify(mint(key=OTHER_KEY, kid="k-made-up"), RESOURCE)
    assert authority.fetches == 3


async def test_a_rotated_signing_key_is_picked_up_on_first_sight(authority: Authority) -> None:
    verifier = authority.verifier()
    await verifier.verify(mint(), RESOURCE)
    authority.keys.append(jwk(OTHER_KEY, "k2"))
    assert (await verifier.verify(mint(key=OTHER_KEY, kid="k2"), RESOURCE)).key == "t1:user-1"


async def test_known_keys_keep_working_while_the_authority_is_down(authority: Authority) -> None:
    verifier = authority.verifier()
    await verifier.verify(mint(), RESOURCE)
    authority.keys = []  # the authority now answers with an unusable key set
    authority.now += 24 * 3600 + 1  # our copy has expired and must be refreshed
    assert (await verifier.verify(mint(), RESOURCE)).key == "t1:user-1"


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Basic abc", None), ("Bearer", None), ("", None)],
)
def test_bearer_token_is_read_only_from_a_bearer_authorization_header(header: str, token: str | None) -> None:
    assert bearer_token({"authorization": header} if header else {}) == token


async def test_a_refused_token_is_audited_without_the_token_itself(
    authority: Authority, caplog: pytest.LogCaptureFixture
) -> None:
    token = mint(aud="api://someone-else")
    with caplog.at_level(logging.INFO, logger="mcphub.audit"), pytest.raises(Unauthenticated):
        await authority.verifier().verify(token, RESOURCE)
    events = [record for record in caplog.records if record.name == "mcphub.audit"]
    assert [record.getMessage().split()[0] for record in events] == ["token.refused"]
    assert all(token not in record.getMessage() and token.split(".")[1] not in record.getMessage() for record in events)


class CountingVerifier:
    def __init__(self, principal: Principal | None) -> None:
        self.principal = principal
        self.calls = 0

    async def verify(self, token: str, resource: str) -> Principal:
        self.calls += 1
        if self.principal is None:
            raise Unauthenticated(REFUSED)
        return self.principal


async def test_a_verified_token_is_remembered_until_it_expires_and_per_resource() -> None:
    now = [NOW]
    inner = CountingVerifier(Principal("t1", "alice", expires_at=NOW + 100))
    cached = CachedVerifier(inner, clock=lambda: now[0])
    await cached.verify("tok", RESOURCE)
    await cached.verify("tok", RESOURCE)
    assert inner.calls == 1
    await cached.verify("tok", RESOURCE + "/notes")
    assert inner.calls == 2
    now[0] = NOW + 101
    await cached.verify("tok", RESOURCE)
    assert inner.calls == 3


async def test_a_refused_token_is_never_remembered() -> None:
    inner = CountingVerifier(None)
    cached = CachedVerifier(inner, clock=lambda: NOW)
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            await cached.verify("bad", RESOURCE)
    assert inner.calls == 2
