"""OAuth clients of the facade: Dynamic Client Registration (RFC 7591) and Client ID Metadata
Documents (MCP 2025-11-25), and which redirect URIs they may use.

Every client is public (IDEs cannot keep a secret), so PKCE carries the security and the
redirect URI is what keeps a code from being delivered elsewhere: only loopback addresses
(any port, RFC 8252), the custom schemes of known IDEs and listed web redirects are accepted,
each judged as a browser parses it (shared/redirects.py).
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from shared.identity.grants import GrantStore
from shared.identity.public_fetch import FetchRefused, PublicFetcher
from shared.redirects import RedirectRefused, check_redirect, parse_redirect, redirect_matches

KIND = "client"
DEFAULT_SCHEMES = ("cursor", "vscode", "vscode-insiders", "windsurf", "claude")
# VS Code's hosted redirect broker, which it registers next to its loopback address.
DEFAULT_WEB_REDIRECTS = ("https://vscode.dev/redirect", "https://insiders.vscode.dev/redirect")
log = logging.getLogger("mcphub")


# The hub's own operator page: a first-party public client whose one redirect is `<hub>/operator`.
OPERATOR_PAGE_CLIENT = "mcphub-operator-page"


class ClientError(Exception):
    """A registration or client lookup the facade refuses; `error` is the RFC 7591 code."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass(frozen=True, slots=True)
class Client:
    client_id: str
    redirect_uris: tuple[str, ...]
    name: str = ""

    def redirect_allowed(self, uri: str) -> bool:
        """Exact match on the canonical form, except that a loopback redirect may use any port (RFC 8252 §7.3)."""
        try:
            asked = parse_redirect(uri)
        except RedirectRefused:
            return False
        return redirect_matches(asked, self.redirect_uris)


def check_redirect_uri(uri: object, schemes: Sequence[str], web: Sequence[str] = DEFAULT_WEB_REDIRECTS) -> str:
    """`uri` if a client may register it (shared/redirects.py says which), else ClientError."""
    try:
        return check_redirect(uri, schemes, web).href
    except RedirectRefused as refused:
        raise ClientError("invalid_redirect_uri", str(refused)) from None


class ClientRegistry:
    def __init__(
        self,
        grants: GrantStore,
        *,
        clock: Callable[[], float],
        schemes: Sequence[str] = DEFAULT_SCHEMES,
        web_redirects: Sequence[str] = DEFAULT_WEB_REDIRECTS,
        fetch: PublicFetcher | None = None,
        first_party: Sequence[Client] = (),
        unused_seconds: float = 24 * 3600,
    ) -> None:
        self._unused = unused_seconds
        self._first_party = {client.client_id: client for client in first_party}
        self._web = tuple(web_redirects)
        self._grants = grants
        self._clock = clock
        self._schemes = tuple(schemes)
        self._fetch = fetch
        self._documents: dict[str, tuple[Client, float]] = {}

    async def register(self, metadata: Any) -> dict[str, Any]:
        """RFC 7591: store a new public client and return its registration."""
        if not isinstance(metadata, dict):
            raise ClientError("invalid_client_metadata", "the body must be a JSON object")
        fields = cast(dict[str, Any], metadata)
        uris = fields.get("redirect_uris")
        if not isinstance(uris, list) or not uris or len(cast(list[Any], uris)) > 10:
            raise ClientError("invalid_redirect_uri", "redirect_uris must list 1 to 10 URLs")
        redirect_uris = [check_redirect_uri(uri, self._schemes, self._web) for uri in cast(list[Any], uris)]
        grant_types = fields.get("grant_types", ["authorization_code", "refresh_token"])
        if not isinstance(grant_types, list) or not set(cast(list[Any], grant_types)) <= {
            "authorization_code",
            "refresh_token",
        }:
            raise ClientError("invalid_client_metadata", "only authorization_code and refresh_token grants exist here")
        name = str(fields.get("client_name") or "")[:200]
        client_id = "mcphub-" + secrets.token_urlsafe(18)
        now = self._clock()
        record = {"redirect_uris": redirect_uris, "name": name, "issued_at": int(now)}
        # A registration nobody signs in with is gone in a day (keep() extends one that is used).
        await self._grants.add(KIND, client_id, record, expires_at=now + self._unused, now=now)
        return {
            "client_id": client_id,
            "client_id_issued_at": int(now),
            "client_name": name,
            "redirect_uris": redirect_uris,
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        }

    def is_first_party(self, client_id: str) -> bool:
        return client_id in self._first_party

    def add_first_party(self, client: Client) -> None:
        self._first_party[client.client_id] = client

    async def keep(self, client_id: str, *, until: float) -> None:
        """A registered client was used: keep it until `until` (when its sign-in could last no longer)."""
        if client_id in self._first_party or client_id.startswith("https://"):
            return
        record = await self._grants.get(KIND, client_id, now=self._clock())
        if record is not None:
            await self._grants.put(KIND, client_id, record, expires_at=until)

    async def get(self, client_id: str) -> Client | None:
        if client_id in self._first_party:
            return self._first_party[client_id]
        if client_id.startswith("https://"):
            return await self._document(client_id)
        record = await self._grants.get(KIND, client_id, now=self._clock())
        if record is None:
            return None
        # Registered before today's rules? Only what passes them now may still be used.
        uris = tuple(uri for uri in record["redirect_uris"] if self._registrable(uri))
        return Client(client_id, uris, str(record.get("name", "")))

    def _registrable(self, uri: object) -> bool:
        try:
            check_redirect(uri, self._schemes, self._web)
        except RedirectRefused:
            return False
        return True

    async def _document(self, url: str) -> Client | None:
        """A Client ID Metadata Document: the client_id is an HTTPS URL serving the client's metadata."""
        cached = self._documents.get(url)
        if cached is not None and cached[1] > self._clock():
            return cached[0]
        if self._fetch is None:
            return None
        try:
            document = json.loads(await self._fetch.get(url))
        except FetchRefused as refused:
            log.info("client metadata document %s not used: %s", url[:200], refused)
            return None
        except ValueError:
            return None
        if not isinstance(document, dict) or cast(dict[str, Any], document).get("client_id") != url:
            return None
        fields = cast(dict[str, Any], document)
        try:
            listed = cast(list[Any], fields.get("redirect_uris") or [])
            uris = [check_redirect_uri(uri, self._schemes, self._web) for uri in listed]
        except ClientError:
            return None
        if not uris:
            return None
        client = Client(url, tuple(uris), str(fields.get("client_name") or "")[:200])
        if len(self._documents) >= 1000:  # strangers choose these URLs: forget the oldest rather than grow
            for stale in list(self._documents)[:500]:
                del self._documents[stale]
        self._documents[url] = (client, self._clock() + 3600)
        return client
