"""Signing the user in with the company identity provider (Entra ID) on the facade's behalf.

`MsalIdentityProvider` runs the authorization code flow with PKCE as the hub's confidential
client: `begin` gives the URL to send the browser to and the flow state to keep (in the grant
store, since the callback may reach another instance); `finish` redeems the code and returns the
validated ID token claims (MSAL checks signature, issuer, audience, nonce and expiry) with the
provider's refresh token; `reevaluate` uses that refresh token to ask the provider again who the user
is now (current roles and groups; refused for a disabled account), so a hub refresh never carries
forward what the user was at sign-in.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from shared.errors import Unauthenticated

_TOKENS = ("id_token", "access_token")


@dataclass(frozen=True, slots=True)
class SignedIn:
    claims: dict[str, Any]  # the validated ID token's claims
    refresh_token: str | None  # the provider's, kept sealed to re-evaluate the user at each hub refresh


class IdentityProvider(Protocol):
    async def begin(self, *, redirect_uri: str, login_hint: str | None) -> tuple[str, dict[str, Any]]:
        """(URL to send the user to, flow state to keep until the callback)."""
        ...

    async def finish(self, flow: dict[str, Any], query: dict[str, str]) -> SignedIn:
        """The signed-in user; Unauthenticated when sign-in failed."""
        ...

    async def reevaluate(self, refresh_token: str) -> SignedIn:
        """Who the user is now, by the provider's refresh token; Unauthenticated when refused."""
        ...


class MsalIdentityProvider:
    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        authority: str | None = None,
        oidc_authority: str | None = None,
        ca_file: str | None = None,
        auth_contexts: Sequence[str] = (),
    ) -> None:
        self._options: dict[str, Any] = {
            "client_id": client_id,
            "client_credential": client_secret,
            "authority": authority,
            "oidc_authority": oidc_authority,
            "token_cache": None,
        }
        self._ca_file = ca_file
        # Servers that need a Conditional Access auth context: ask for all of them at sign-in, so the
        # hub's token (which copies `acrs` from the ID token) satisfies them.
        self._claims = (
            json.dumps({name: {"acrs": {"essential": True, "values": sorted(auth_contexts)}} for name in _TOKENS})
            if auth_contexts
            else None
        )
        self._app: Any = None
        self._lock = asyncio.Lock()

    async def msal(self) -> Any:
        # msal is synchronous (requests) and its first use fetches the authority's metadata:
        # build it once, off the event loop.
        async with self._lock:
            if self._app is None:
                self._app = await asyncio.to_thread(self._build)
        return self._app

    def _build(self) -> Any:
        import msal  # pyright: ignore[reportMissingTypeStubs] - msal ships no types; imported only where sign-in runs

        options = {name: value for name, value in self._options.items() if value is not None}
        if self._ca_file:
            import requests  # msal's own HTTP library, loaded with it anyway

            # requests lets REQUESTS_CA_BUNDLE override a session's `verify`; a private CA must win.
            session = requests.Session()
            session.trust_env = False
            session.verify = self._ca_file
            options["http_client"] = session
        return msal.ConfidentialClientApplication(**options)

    async def begin(self, *, redirect_uri: str, login_hint: str | None) -> tuple[str, dict[str, Any]]:
        app = await self.msal()
        flow: dict[str, Any] = await asyncio.to_thread(
            app.initiate_auth_code_flow,
            [],
            redirect_uri=redirect_uri,
            login_hint=login_hint,
            claims_challenge=self._claims,
        )
        return str(flow["auth_uri"]), flow

    async def finish(self, flow: dict[str, Any], query: dict[str, str]) -> SignedIn:
        app = await self.msal()
        result: dict[str, Any] = await asyncio.to_thread(app.acquire_token_by_auth_code_flow, flow, query)
        return _signed_in(result, "sign-in failed")

    async def reevaluate(self, refresh_token: str) -> SignedIn:
        app = await self.msal()
        # No scopes beyond OpenID's: what is wanted is a fresh ID token, with today's roles and groups.
        result: dict[str, Any] = await asyncio.to_thread(app.acquire_token_by_refresh_token, refresh_token, [])
        return _signed_in(result, "the identity provider refused to renew the sign-in")


def _signed_in(result: dict[str, Any], failure: str) -> SignedIn:
    claims = result.get("id_token_claims")
    if "error" in result or not isinstance(claims, dict):
        raise Unauthenticated(f"{failure}: {result.get('error', 'no id token')}")
    refresh = result.get("refresh_token")
    return SignedIn(claims, refresh if isinstance(refresh, str) else None)  # pyright: ignore[reportUnknownArgumentType] - MSAL returns plain JSON


class MsalOnBehalfOf:
    """Entra tokens for an upstream's scope on behalf of the caller (OAuth 2.0 on-behalf-of).

    MSAL does not look in its cache for on-behalf-of requests, so tokens are cached here per
    (caller's token, scope) until a minute before they expire.
    """

    def __init__(self, provider: MsalIdentityProvider, *, clock: Callable[[], float] = time.time) -> None:
        self._provider = provider
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[str, float]] = {}

    async def token(self, scope: str, assertion: str | None) -> str:
        if assertion is None:
            raise Unauthenticated("on-behalf-of needs the caller's Entra token")
        key = (hashlib.sha256(assertion.encode()).hexdigest(), scope)
        cached = self._cache.get(key)
        if cached is not None and cached[1] > self._clock():
            return cached[0]
        app = await self._provider.msal()
        result: dict[str, Any] = await asyncio.to_thread(app.acquire_token_on_behalf_of, assertion, [scope])
        token = result.get("access_token")
        if not isinstance(token, str):
            raise Unauthenticated(f"on-behalf-of refused: {result.get('error', 'no token')}")
        expires_in = result.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else 300.0
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key] = (token, self._clock() + lifetime - 60)
        return token
