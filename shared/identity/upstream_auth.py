"""How the hub authenticates to an upstream: one class per `MCPHUB_SERVER_<NAME>__AUTH` mode.

    none              NoAuth               only the server's static HEADERS
    managed_identity  ManagedIdentityAuth  the hub's own managed identity token for SCOPE
    obo               OnBehalfOfAuth       an Entra token for SCOPE on behalf of the caller (MSAL)
    user_token        UserTokenAuth        a token the user pasted on the connect page (a PAT)
    user_oauth        UserOAuthAuth        the user's account at the upstream's OAuth server, refreshed
                                           before it expires

Every mode answers the same three questions (`UpstreamAuth`): which headers authenticate this user
to this server, what to do when the upstream refuses them, and how a user connects an account (if
at all). Nothing else in the hub compares mode strings: it asks the mode's object
(`UpstreamCredentials.auth_for`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal, Protocol, cast

import httpx

from shared.audit.events import audit
from shared.errors import CredentialRequired, UpstreamError
from shared.identity.credentials import ConnectTickets, CredentialVault, TokenSource, token_record
from shared.settings import ServerSettings

Connect = Literal["paste", "oauth"]


class UpstreamAuth(Protocol):
    @property
    def sends_credentials(self) -> bool:
        """False when nothing but the server's static headers goes upstream (a 401 is the upstream's own)."""
        ...

    @property
    def connect(self) -> Connect | None:
        """How a user connects an account for this mode on the connect page, or None."""
        ...

    async def headers(self, server: ServerSettings, user: str, assertion: str | None) -> dict[str, str]:
        """The headers that authenticate `user` (or the hub) to `server`; CredentialRequired when missing."""
        ...

    async def rejected(self, server: ServerSettings, user: str) -> UpstreamError:
        """The upstream refused the credential (401): forget what must be forgotten, and say what to do."""
        ...


def _refused(server: ServerSettings) -> UpstreamError:
    return UpstreamError(server.name, f"upstream {server.name!r} refused the hub's credentials")


class NoAuth:
    sends_credentials = False
    connect: Connect | None = None

    async def headers(self, server: ServerSettings, user: str, assertion: str | None) -> dict[str, str]:
        return {}

    async def rejected(self, server: ServerSettings, user: str) -> UpstreamError:
        return _refused(server)


class ManagedIdentityAuth:
    sends_credentials = True
    connect: Connect | None = None

    def __init__(self, source: TokenSource | None) -> None:
        self._source = source

    async def headers(self, server: ServerSettings, user: str, assertion: str | None) -> dict[str, str]:
        if self._source is None:
            raise UpstreamError(server.name, f"server {server.name!r} needs a managed identity; none is available")
        return {server.auth_header: f"Bearer {await self._source.token(str(server.scope), None)}"}

    async def rejected(self, server: ServerSettings, user: str) -> UpstreamError:
        return _refused(server)


class OnBehalfOfAuth:
    sends_credentials = True
    connect: Connect | None = None

    def __init__(self, source: TokenSource | None) -> None:
        self._source = source

    async def headers(self, server: ServerSettings, user: str, assertion: str | None) -> dict[str, str]:
        if self._source is None or assertion is None:
            raise UpstreamError(
                server.name,
                f"server {server.name!r} acts on your behalf with Entra ID: sign in to the hub with "
                "your Entra account directly (e.g. VS Code's Microsoft sign-in) to use it",
            )
        return {server.auth_header: f"Bearer {await self._source.token(str(server.scope), assertion)}"}

    async def rejected(self, server: ServerSettings, user: str) -> UpstreamError:
        return _refused(server)  # nothing stored to forget: the next call exchanges a new token


class UserSecrets:
    """What the two user-connected modes share: the vault, connect links and a short cache."""

    def __init__(
        self,
        vault: CredentialVault,
        tickets: ConnectTickets,
        *,
        public_url: str,
        clock: Callable[[], float] = time.time,
        cache_seconds: float = 30.0,
    ) -> None:
        self.vault = vault
        self._tickets = tickets
        self._public_url = public_url.rstrip("/")
        self.clock = clock
        self._cache_seconds = cache_seconds
        self._cache: dict[tuple[str, str], tuple[dict[str, str], float]] = {}

    def connect_url(self, server: str, user: str) -> str:
        return f"{self._public_url}/connect/{server}?ticket={self._tickets.issue(user, server)}"

    def required(self, server: ServerSettings, user: str, why: str) -> CredentialRequired:
        url = self.connect_url(server.name, user)
        return CredentialRequired(
            server.name,
            f"{why} Connect your {server.name} account at {url} and call the tool again.",
            data={"connectUrl": url, "server": server.name},
        )

    def cached(self, server: ServerSettings, user: str) -> dict[str, str] | None:
        found = self._cache.get((user, server.name))
        return found[0] if found is not None and found[1] > self.clock() else None

    def remember(self, server: ServerSettings, user: str, token: str) -> dict[str, str]:
        value = f"Bearer {token}" if server.auth_header.lower() == "authorization" else token
        headers = {server.auth_header: value}
        self._cache[(user, server.name)] = (headers, self.clock() + self._cache_seconds)
        return headers

    def forget(self, user: str, server: str) -> None:
        self._cache.pop((user, server), None)

    async def stored(self, server: ServerSettings, user: str) -> dict[str, Any]:
        secret = await self.vault.get(user, server.name)
        if secret is None:
            raise self.required(server, user, f"The hub has no {server.name} credential of yours yet.")
        return secret

    async def revoke(self, server: ServerSettings, user: str) -> UpstreamError:
        self.forget(user, server.name)
        await self.vault.delete(user, server.name)
        audit("credential.revoked_by_upstream", user=user, server=server.name)
        return self.required(server, user, f"{server.name} no longer accepts your credential.")


class UserTokenAuth:
    sends_credentials = True
    connect: Connect | None = "paste"

    def __init__(self, secrets: UserSecrets) -> None:
        self._secrets = secrets

    async def headers(self, server: ServerSettings, user: str, assertion: str | None) -> dict[str, str]:
        cached = self._secrets.cached(server, user)
        if cached is not None:
            return cached
        secret = await self._secrets.stored(server, user)
        return self._secrets.remember(server, user, str(secret["access_token"]))

    async def rejected(self, server: ServerSettings, user: str) -> UpstreamError:
        return await self._secrets.revoke(server, user)


class UserOAuthAuth:
    sends_credentials = True
    connect: Connect | None = "oauth"

    def __init__(self, secrets: UserSecrets, http: httpx.AsyncClient) -> None:
        self._secrets = secrets
        self._http = http

    async def headers(self, server: ServerSettings, user: str, assertion: str | None) -> dict[str, str]:
        cached = self._secrets.cached(server, user)
        if cached is not None:
            return cached
        secret = await self._secrets.stored(server, user)
        if float(secret.get("expires_at") or 0) - 60 < self._secrets.clock():
            secret = await self._refresh(server, user, secret)
        return self._secrets.remember(server, user, str(secret["access_token"]))

    async def rejected(self, server: ServerSettings, user: str) -> UpstreamError:
        return await self._secrets.revoke(server, user)

    async def _refresh(self, server: ServerSettings, user: str, secret: dict[str, Any]) -> dict[str, Any]:
        vault = self._secrets.vault
        refresh_token = secret.get("refresh_token")
        if not refresh_token:
            await vault.delete(user, server.name)
            raise self._secrets.required(server, user, f"Your {server.name} sign-in has expired.")
        form = {
            "grant_type": "refresh_token",
            "refresh_token": str(refresh_token),
            "client_id": str(server.oauth_client_id),
        }
        if server.oauth_client_secret is not None:
            form["client_secret"] = server.oauth_client_secret.get_secret_value()
        try:
            response = await self._http.post(str(server.oauth_token_url), data=form, timeout=server.timeout)
            parsed: object = response.json() if response.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            raise UpstreamError(server.name, f"could not reach {server.name}'s sign-in service to refresh") from None
        # Anything but a JSON object with a token (a list, a string) is a refusal, not a crash.
        answer = cast(dict[str, Any], parsed) if isinstance(parsed, dict) else {}
        if "access_token" not in answer:
            await vault.delete(user, server.name)
            audit("credential.refresh_failed", user=user, server=server.name)
            raise self._secrets.required(server, user, f"Your {server.name} sign-in could not be renewed.")
        renewed = token_record(answer, self._secrets.clock(), previous=secret)
        await vault.put(user, server.name, renewed)
        audit("credential.refreshed", user=user, server=server.name)
        return renewed


class UpstreamCredentials:
    """Every mode's object, by the mode string (the one place that reads it), over one user-secret store."""

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
        self._secrets = UserSecrets(vault, tickets, public_url=public_url, clock=clock, cache_seconds=cache_seconds)
        self._modes: dict[str, UpstreamAuth] = {
            "none": NoAuth(),
            "managed_identity": ManagedIdentityAuth(managed),
            "obo": OnBehalfOfAuth(obo),
            "user_token": UserTokenAuth(self._secrets),
            "user_oauth": UserOAuthAuth(self._secrets, http),
        }

    def auth_for(self, server: ServerSettings) -> UpstreamAuth:
        return self._modes[server.auth]

    def connect_url(self, server: str, user: str) -> str:
        return self._secrets.connect_url(server, user)

    async def headers(self, server: ServerSettings, user: str, assertion: str | None) -> dict[str, str]:
        return await self.auth_for(server).headers(server, user, assertion)

    async def rejected(self, server: ServerSettings, user: str) -> UpstreamError:
        return await self.auth_for(server).rejected(server, user)

    def forget(self, user: str, server: str) -> None:
        self._secrets.forget(user, server)
