"""The facade's signing keys: created on first use, sealed at rest, rotated with an overlap."""

from __future__ import annotations

import os
import time

import pytest

from shared.errors import Unauthenticated
from shared.identity.grants import MemoryGrantStore
from shared.identity.hub_tokens import HubTokens, SigningKeys
from shared.sealing import Sealer

pytestmark = pytest.mark.anyio
ISSUER = "https://hub.test"
USER = {"tid": "t1", "oid": "alice", "roles": ["Hub.User"]}


class Clock:
    """Starts at the wall clock: PyJWT checks exp and nbf against it."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def world() -> tuple[Clock, MemoryGrantStore, SigningKeys, HubTokens]:
    clock, grants = Clock(), MemoryGrantStore()
    keys = SigningKeys(grants, Sealer([os.urandom(32)]), clock=clock, retire_seconds=3600)
    return clock, grants, keys, HubTokens(keys, issuer=ISSUER, scope="MCP.Access", lifetime_seconds=600, clock=clock)


async def test_a_token_the_hub_issued_verifies_for_its_resource_only() -> None:
    _, _, _, tokens = world()
    token = await tokens.issue(USER, client_id="c", audience=f"{ISSUER}/mcp/notes")
    assert (await tokens.verify(token, f"{ISSUER}/mcp/notes")).key == "t1:alice"
    with pytest.raises(Unauthenticated):
        await tokens.verify(token, f"{ISSUER}/mcp/clock")


async def test_the_private_key_is_stored_sealed() -> None:
    _, grants, keys, _ = world()
    key = await keys.active()
    [(kid, stored)] = await grants.items("signing-key", now=0)
    assert kid == key.kid
    assert "PRIVATE KEY" not in str(stored)


async def test_after_rotation_old_tokens_verify_until_the_old_key_retires() -> None:
    clock, _, keys, tokens = world()
    old_token = await tokens.issue(USER, client_id="c", audience=f"{ISSUER}/mcp")
    old_kid = (await keys.active()).kid
    assert await keys.rotate_if_older(30 * 86400) is None  # not due yet
    clock.now += 10
    new_kid = await keys.rotate_if_older(5)
    assert new_kid not in (None, old_kid)
    published = {jwk["kid"] for jwk in (await keys.jwks())["keys"]}
    assert published == {old_kid, new_kid}
    assert (await tokens.verify(old_token, f"{ISSUER}/mcp")).key == "t1:alice"
    new_token = await tokens.issue(USER, client_id="c", audience=f"{ISSUER}/mcp")
    clock.now += 3601  # the old key's overlap is over
    assert {jwk["kid"] for jwk in (await keys.jwks())["keys"]} == {new_kid}
    with pytest.raises(Unauthenticated, match="no hub signing key"):
        await tokens.verify(old_token, f"{ISSUER}/mcp")
    assert (await tokens.verify(new_token, f"{ISSUER}/mcp")).key == "t1:alice"
