"""Each user's own credentials for upstream servers, and the hub's, per server `AUTH` mode:

    none              only the server's static HEADERS
    user_token        a token the user pasted on the hub's connect page (a PAT), sent as AUTH_HEADER
    user_oauth        the user's account at the upstream's OAuth server, connected through the hub;
                      refreshed before it expires, forgotten when the upstream refuses it
    obo               an Entra token for SCOPE on behalf of the user (MSAL on-behalf-of)
    managed_identity  the hub's own managed identity token for SCOPE (azure-identity)

User credentials are sealed (AES-GCM, bound to user and server) in the grant store; a decrypted
copy is cached per instance for `cache_seconds`. When one is missing or the upstream refuses it,
the tool call fails with a clear error carrying a link to the hub's connect page.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Protocol

import httpx

from shared.errors import UpstreamError
from shared.identity.audit import audit
from shared.identity.grants import GrantStore
from shared.identity.sealing import Sealer, SealError
from shared.settings import ServerSettings

KIND = "credential"
TICKET_SECONDS = 900


class CredentialRequired(UpstreamError):
    """The user must connect their account for this server (first time, expired or revoked)."""


class TokenSource(Protocol):
    async def token(self, scope: str, assertion: str | None) -> str:
        """A bearer token for `scope` (on behalf of `assertion`'s user when the source needs one)."""
        ...


class CredentialVault:
    def __init__(self, grants: GrantStore, sealer: Sealer, *, clock: Callable[[], float] = time.time) -> None:
        self._grants = grants
        self._sealer = sealer
        self._clock = clock

    @staticmethod
    def _key(user: str, server: str) -> str:
        return f"{user}|{server}"

    async def get(self, user: str, server: str) -> dict[str, Any] | None:
        key = self._key(user, server)
        stored = await self._grants.get(KIND, key, now=self._clock())
        if stored is None:
            return None
        try:
            secret: dict[str, Any] = json.loads(self._sealer.open(str(stored["sealed"]), context=f"{KIND}:{key}"))
        except SealError:
            return None  # sealed with a key no longer configured: the user connects again
        if not self._sealer.is_current(str(stored["sealed"])):
            await self.put(user, server, secret)  # rotation: re-seal under the newest key
        return secret

    async def put(self, user: str, server: str, secret: dict[str, Any]) -> None:
        key = self._key(user, server)
        sealed = self._sealer.seal(json.dumps(secret).encode(), context=f"{KIND}:{key}")
        await self._grants.put(KIND, key, {"sealed": sealed, "updated_at": self._clock()}, expires_at=None)

    async def delete(self, user: str, server: str) -> bool:
        return await self._grants.delete(KIND, self._key(user, server))


class ConnectTickets:
    """Short-lived, sealed proof of who asked to connect which server: the link in a tool error."""

    def __init__(self, sealer: Sealer, *, clock: Callable[[], float] = time.time) -> None:
        self._sealer = sealer
        self._clock = clock

    def issue(self, user: str, server: str) -> str:
        body = {"u": user, "s": server, "exp": self._clock() + TICKET_SECONDS}
        return self._sealer.seal(json.dumps(body).encode(), context="connect-ticket")

    def read(self, ticket: str, server: str) -> str:
        """The user the ticket was issued to; ValueError when it is forged, expired or for another server."""
        try:
            body = json.loads(self._sealer.open(ticket, context="connect-ticket"))
        except (SealError, ValueError):
            raise ValueError("this link is not valid; ask your IDE for a new one") from None
        if body.get("s") != server or float(body.get("exp", 0)) < self._clock():
            raise ValueError("this link has expired; call the tool again for a new one")
        return str(body["u"])


class UpstreamCredentials:
    def __init__(
        self,
        vault: CredentialVault,
        tickets: ConnectTickets,
        *,
        public_url: str,
        http: httpx.AsyncClient,
        clock: Callable[[], float] = time.time,
        obo: TokenSource | None = None,
        managed: TokenSource | None = None,
        cache_seconds: float = 30.0,
    ) -> None:
        self._vault = vault
        self._tickets = tickets
        self._public_url = public_url.rstrip("/")
        self._http = http
        self._clock = clock
        self._obo = obo
        self._managed = managed
        self._cache_seconds = cache_seconds
        self._cache: dict[tuple[str, str], tuple[dict[str, str], float]] = {}

    def connect_url(self, server: str, user: str) -> str:
        return f"{self._public_url}/connect/{server}?ticket={self._tickets.issue(user, server)}"

    def _required(self, server: ServerSettings, user: str, why: str) -> CredentialRequired:
        url = self.connect_url(server.name, user)
        return CredentialRequired(
            server.name,
            f"{why} Connect your {server.name} account at {url} and call the tool again.",
            data={"connectUrl": url, "server": server.name},
        )

    async def headers(self, server: ServerSettings, user: str, assertion: str | None) -> dict[str, str]:
        """The headers that authenticate `user` (or the hub) to `server`; CredentialRequired if there are none."""
        if server.auth == "none":
            return {}
        if server.auth == "managed_identity":
            if self._managed is None:
                raise UpstreamError(server.name, f"server {server.name!r} needs a managed identity; none is available")
            return {server.auth_header: f"Bearer {await self._managed.token(str(server.scope), None)}"}
        if server.auth == "obo":
            if self._obo is None or assertion is None:
                raise UpstreamError(
                    server.name,
                    f"server {server.name!r} acts on your behalf with Entra ID: sign in to the hub with "
                    "your Entra account directly (e.g. VS Code's Microsoft sign-in) to use it",
                )
            return {server.auth_header: f"Bearer {await self._obo.token(str(server.scope), assertion)}"}
        cached = self._cache.get((user, server.name))
        if cached is not None and cached[1] > self._clock():
            return cached[0]
        secret = await self._vault.get(user, server.name)
        if secret is None:
            raise self._required(server, user, f"The hub has no {server.name} credential of yours yet.")
        if server.auth == "user_oauth" and float(secret.get("expires_at") or 0) - 60 < self._clock():
            secret = await self._refresh(server, user, secret)
        token = str(secret["access_token"])
        value = f"Bearer {token}" if server.auth_header.lower() == "authorization" else token
        headers = {server.auth_header: value}
        self._cache[(user, server.name)] = (headers, self._clock() + self._cache_seconds)
        return headers

    async def _refresh(self, server: ServerSettings, user: str, secret: dict[str, Any]) -> dict[str, Any]:
        refresh_token = secret.get("refresh_token")
        if not refresh_token:
            await self._vault.delete(user, server.name)
            raise self._required(server, user, f"Your {server.name} sign-in has expired.")
        form = {
            "grant_type": "refresh_token",
            "refresh_token": str(refresh_token),
            "client_id": str(server.oauth_client_id),
        }
        if server.oauth_client_secret is not None:
            form["client_secret"] = server.oauth_client_secret.get_secret_value()
        try:
            response = await self._http.post(str(server.oauth_token_url), data=form, timeout=server.timeout)
            answer: dict[str, Any] = response.json() if response.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            raise UpstreamError(server.name, f"could not reach {server.name}'s sign-in service to refresh") from None
        if "access_token" not in answer:
            await self._vault.delete(user, server.name)
            audit("credential.refresh_failed", user=user, server=server.name)
            raise self._required(server, user, f"Your {server.name} sign-in could not be renewed.")
        renewed = token_record(answer, self._clock(), previous=secret)
        await self._vault.put(user, server.name, renewed)
        audit("credential.refreshed", user=user, server=server.name)
        return renewed

    async def rejected(self, server: ServerSettings, user: str) -> UpstreamError:
        """The upstream refused the credential (401): forget a user's, and say what to do."""
        self._cache.pop((user, server.name), None)
        if not server.per_user or server.auth == "obo":
            return UpstreamError(server.name, f"upstream {server.name!r} refused the hub's credentials")
        await self._vault.delete(user, server.name)
        audit("credential.revoked_by_upstream", user=user, server=server.name)
        return self._required(server, user, f"{server.name} no longer accepts your credential.")

    def forget(self, user: str, server: str) -> None:
        self._cache.pop((user, server), None)


def token_record(answer: dict[str, Any], now: float, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the vault keeps of an OAuth token response."""
    expires_in = answer.get("expires_in")
    return {
        "access_token": str(answer["access_token"]),
        "refresh_token": answer.get("refresh_token") or (previous or {}).get("refresh_token"),
        "expires_at": now + float(expires_in) if isinstance(expires_in, int | float) else None,
    }
