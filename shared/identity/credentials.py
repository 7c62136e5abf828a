"""Where users' upstream credentials are kept, and the links that connect them (the modes that use
them are classes in shared/identity/upstream_auth.py).

User credentials are sealed (AES-GCM, bound to user and server) in the grant store; a decrypted
copy is cached per instance for `cache_seconds`. When one is missing or the upstream refuses it,
the tool call fails with a clear error carrying a link to the hub's connect page.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Protocol

from shared.identity.grants import GrantStore
from shared.sealing import Sealer, SealError

KIND = "credential"
TICKET_SECONDS = 900


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
            secret = self._sealer.open_object(str(stored["sealed"]), context=f"{KIND}:{key}")
        except (SealError, ValueError):
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
            body = self._sealer.open_object(ticket, context="connect-ticket")
        except (SealError, ValueError):
            raise ValueError("this link is not valid; ask your IDE for a new one") from None
        if body.get("s") != server or float(body.get("exp", 0)) < self._clock():
            raise ValueError("this link has expired; call the tool again for a new one")
        return str(body["u"])


def token_record(answer: dict[str, Any], now: float, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the vault keeps of an OAuth token response."""
    expires_in = answer.get("expires_in")
    return {
        "access_token": str(answer["access_token"]),
        "refresh_token": answer.get("refresh_token") or (previous or {}).get("refresh_token"),
        "expires_at": now + float(expires_in) if isinstance(expires_in, int | float) else None,
    }
