"""Verifying the bearer token on every request (Entra ID v2 access tokens issued for the hub).

Checked, in this order, before anything else of the request is looked at: RS256 only (never
`none` or an HMAC algorithm, whatever the header says), a tenant on the allow-list, that
tenant's issuer, the hub as audience, exp/nbf with a small clock skew, the signature against the
tenant's published keys, then the required delegated scope. The token itself is never logged or
forwarded; the reason for a refusal is logged, and the caller only learns that it was refused.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import jwt

from shared.audit.events import audit
from shared.errors import InsufficientScope, Unauthenticated
from shared.identity.hub_tokens import HubTokens
from shared.identity.jwks import JwksCache
from shared.principal import ANONYMOUS, Principal
from shared.settings import AuthSettings

REFUSED = "the access token is missing, expired or not valid for this hub; sign in again"


class TokenVerifier(Protocol):
    async def verify(self, token: str, resource: str) -> Principal:
        """The principal the token proves for `resource` (the MCP URL called); AuthError otherwise."""
        ...


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (lower-case header names)."""
    value = headers.get("authorization")
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class EntraTokenVerifier:
    def __init__(self, settings: AuthSettings, keys: JwksCache) -> None:
        self._settings = settings
        self._keys = keys
        self._tenants = frozenset(settings.tenants)

    async def verify(self, token: str, resource: str) -> Principal:
        try:
            claims = await self._claims(token)
        except Unauthenticated as refused:
            audit("token.refused", issuer="entra", reason=refused.message[:200])
            raise Unauthenticated(REFUSED) from None
        principal = Principal.from_claims(claims)
        if self._settings.scope not in principal.scopes:
            audit("token.refused", issuer="entra", user=principal.key, reason=f"scope {self._settings.scope} missing")
            raise InsufficientScope(f"the access token lacks the scope {self._settings.scope!r}")
        return principal

    async def _claims(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"not a JWT ({type(exc).__name__})") from exc
        if header.get("alg") != "RS256":
            raise Unauthenticated(f"algorithm {header.get('alg')!r} is not accepted")
        kid = header.get("kid")
        tenant = unverified.get("tid")
        if not isinstance(kid, str) or not isinstance(tenant, str):
            raise Unauthenticated("no kid or tid")
        if tenant not in self._tenants:
            raise Unauthenticated(f"tenant {tenant!r} is not allowed (MCPHUB_AUTH__TENANTS)")
        key = await self._keys.key(self._settings.jwks_url_for(tenant), kid)
        try:
            return jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=list(self._settings.audiences),
                issuer=self._settings.issuer_for(tenant),
                leeway=self._settings.clock_skew_seconds,
                options={"require": ["exp", "iss", "aud", "tid", "oid"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"{type(exc).__name__}: {exc}") from exc


class NoAuthentication:
    """MCPHUB_AUTH__MODE=off: everybody is the same anonymous user. Local demos only."""

    async def verify(self, token: str, resource: str) -> Principal:
        return ANONYMOUS


class HubOrEntraVerifier:
    """Tokens the hub's own facade issued (its issuer) and Entra tokens issued for the hub (VS Code)."""

    def __init__(self, hub: HubTokens, entra: TokenVerifier) -> None:
        self._hub = hub
        self._entra = entra

    async def verify(self, token: str, resource: str) -> Principal:
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError:
            issuer = None
        if issuer != self._hub.issuer:
            return await self._entra.verify(token, resource)
        try:
            return await self._hub.verify(token, resource)
        except Unauthenticated as refused:
            audit("token.refused", issuer="hub", reason=refused.message[:200])
            raise Unauthenticated(REFUSED) from None


class CachedVerifier:
    """Remembers tokens it verified until they expire (at most `max_seconds`), per resource.

    A client sends the same token on every request for its lifetime; checking its signature
    again each time costs about 0.17 ms of CPU here. Refusals are never cached.
    """

    def __init__(
        self, inner: TokenVerifier, *, clock: Callable[[], float], max_seconds: float = 300.0, size: int = 10_000
    ) -> None:
        self._inner = inner
        self._clock = clock
        self._max_seconds = max_seconds
        self._size = size
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()

    async def verify(self, token: str, resource: str) -> Principal:
        key = hashlib.sha256(f"{resource}\0{token}".encode()).hexdigest()
        now = self._clock()
        hit = self._verified.get(key)
        if hit is not None and hit[1] > now:
            self._verified.move_to_end(key)
            return hit[0]
        principal = await self._inner.verify(token, resource)
        until = min(principal.expires_at or now, now + self._max_seconds)
        if until > now:
            self._verified[key] = (principal, until)
            if len(self._verified) > self._size:
                self._verified.popitem(last=False)
        return principal
