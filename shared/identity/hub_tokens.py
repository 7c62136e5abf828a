"""The hub's own access tokens, issued by its OAuth facade to IDEs that cannot talk to Entra
directly (no Dynamic Client Registration there).

RS256 JWTs: `iss` = the hub's public origin, `aud` = the MCP resource the client asked for,
the user's tenant, object ID and roles as Entra reported them at sign-in, short-lived.
Signing keys live in the grant store, sealed with the vault key, shared by every instance and
published as JWKS; `rotate()` adds a new active key while the old ones keep verifying until
the tokens they signed have expired.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from shared.errors import InsufficientScope, Unauthenticated
from shared.identity.grants import GrantStore
from shared.principal import Principal
from shared.sealing import Sealer

_SERVER_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # as the /mcp/{server} routes accept

KIND = "signing-key"
ROTATION = "signing-key-rotation"  # claims: which instance makes the next key (every region runs the timer)
_RELOAD_SECONDS = 300.0
_CLAIM_SECONDS = 600.0  # a claimant that died frees the claim after this long
_FIRST_KEY_WAIT = (0.1, 0.2, 0.4, 0.8, 1.5, 2.0)  # seconds between looks while another instance makes it


@dataclass(frozen=True, slots=True)
class _Key:
    kid: str
    private: rsa.RSAPrivateKey
    created_at: float


class SigningKeys:
    def __init__(
        self,
        grants: GrantStore,
        sealer: Sealer,
        *,
        clock: Callable[[], float] = time.time,
        retire_seconds: float = 2 * 24 * 3600,
    ) -> None:
        self._grants = grants
        self._sealer = sealer
        self._clock = clock
        self._retire_seconds = retire_seconds
        self._keys: list[_Key] = []
        self._loaded_at = float("-inf")

    async def _load(self, *, force: bool = False) -> list[_Key]:
        now = self._clock()
        if not force and self._keys and now - self._loaded_at < _RELOAD_SECONDS:
            return self._keys
        keys: list[_Key] = []
        for kid, value in await self._grants.items(KIND, now=now):
            pem = self._sealer.open(str(value["sealed"]), context=f"{KIND}:{kid}")
            private = serialization.load_pem_private_key(pem, password=None)
            if isinstance(private, rsa.RSAPrivateKey):
                keys.append(_Key(kid, private, float(value["created_at"])))
        self._keys = sorted(keys, key=lambda k: k.created_at, reverse=True)
        self._loaded_at = now
        return self._keys

    async def active(self) -> _Key:
        keys = await self._load()
        if keys:
            return keys[0]
        if await self._claim("first"):
            return await self.rotate()
        for pause in _FIRST_KEY_WAIT:  # another instance is making the first key: use it
            await asyncio.sleep(pause)
            keys = await self._load(force=True)
            if keys:
                return keys[0]
        return await self.rotate()

    async def _claim(self, after: str) -> bool:
        """Whether this instance makes the key that follows `after`: one claim per key, whoever asks."""
        now = self._clock()
        return await self._grants.add(ROTATION, after, {"claimed_at": now}, expires_at=now + _CLAIM_SECONDS, now=now)

    async def rotate(self) -> _Key:
        """Create a new active key; older keys expire `retire_seconds` later (still verifying until then)."""
        now = self._clock()
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        kid = secrets.token_hex(8)
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        value = {"sealed": self._sealer.seal(pem, context=f"{KIND}:{kid}"), "created_at": now}
        for old in await self._load(force=True):
            sealed = self._sealer.seal(
                old.private.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                ),
                context=f"{KIND}:{old.kid}",
            )
            retired = {"sealed": sealed, "created_at": old.created_at}
            await self._grants.put(KIND, old.kid, retired, expires_at=now + self._retire_seconds)
        await self._grants.put(KIND, kid, value, expires_at=None)
        await self._load(force=True)
        return _Key(kid, private, now)

    async def rotate_if_older(self, seconds: float) -> str | None:
        """Rotate when the active key is older than `seconds`; the new key's ID, or None."""
        keys = await self._load(force=True)
        if keys and self._clock() - keys[0].created_at < seconds:
            return None
        # Every instance of every region runs the timer in the same minute: one rotates.
        if not await self._claim(keys[0].kid if keys else "first"):
            return None
        return (await self.rotate()).kid

    async def public_key(self, kid: str) -> rsa.RSAPublicKey | None:
        for key in await self._load():
            if key.kid == kid:
                return key.private.public_key()
        for key in await self._load(force=True):  # a key another instance just made
            if key.kid == kid:
                return key.private.public_key()
        return None

    async def jwks(self) -> dict[str, Any]:
        keys: list[dict[str, Any]] = []
        for key in await self._load():
            jwk: dict[str, Any] = RSAAlgorithm.to_jwk(key.private.public_key(), as_dict=True)
            keys.append({**jwk, "kid": key.kid, "use": "sig", "alg": "RS256"})
        return {"keys": keys}


class HubTokens:
    """Issues and verifies the facade's access tokens."""

    def __init__(
        self,
        keys: SigningKeys,
        *,
        issuer: str,
        scope: str,
        lifetime_seconds: int = 900,
        clock_skew_seconds: int = 60,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self._scope = scope
        self.lifetime = lifetime_seconds
        self._skew = clock_skew_seconds
        self._clock = clock

    @property
    def resource(self) -> str:
        return f"{self.issuer}/mcp"

    def accepts_audience(self, audience: str) -> bool:
        """`/mcp` or one `/mcp/{server}` of this hub: the resources its metadata names."""
        if audience == self.resource:
            return True
        server = audience.removeprefix(self.resource + "/")
        return server != audience and _SERVER_NAME.fullmatch(server) is not None

    async def issue(self, claims: dict[str, Any], *, client_id: str, audience: str) -> str:
        key = await self.active_key()
        now = int(self._clock())
        payload = {
            **claims,
            "iss": self.issuer,
            "aud": audience,
            "sub": f"{claims['tid']}:{claims['oid']}",
            "scp": self._scope,
            "client_id": client_id,
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime,
            "jti": secrets.token_urlsafe(12),
        }
        return jwt.encode(payload, key.private, algorithm="RS256", headers={"kid": key.kid, "typ": "at+jwt"})

    async def active_key(self) -> _Key:
        return await self.keys.active()

    async def verify(self, token: str, resource: str) -> Principal:
        """The principal of a hub token for `resource` (the MCP URL called); raises AuthError."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"not a JWT ({type(exc).__name__})") from exc
        kid = header.get("kid")
        if header.get("alg") != "RS256" or not isinstance(kid, str):
            raise Unauthenticated(f"algorithm {header.get('alg')!r} or key id not accepted")
        public = await self.keys.public_key(kid)
        if public is None:
            raise Unauthenticated(f"no hub signing key {kid!r}")
        try:
            claims = jwt.decode(
                token,
                public,
                algorithms=["RS256"],
                issuer=self.issuer,
                options={"verify_aud": False, "require": ["exp", "iss", "aud", "tid", "oid"]},
                leeway=self._skew,
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"{type(exc).__name__}: {exc}") from exc
        audience = claims.get("aud")
        # One resource per endpoint, as its metadata names it (RFC 8707/9728): a token for /mcp
        # serves /mcp (and the operator APIs, which authenticate as /mcp); one for /mcp/{server}
        # serves that endpoint only.
        if audience != resource:
            raise Unauthenticated(f"audience {audience!r} is not {resource!r}")
        principal = replace(Principal.from_claims(claims), via="hub")
        if self._scope not in principal.scopes:
            raise InsufficientScope(f"the access token lacks the scope {self._scope!r}")
        return principal
