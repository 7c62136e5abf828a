"""Signing keys of the token authority, fetched over HTTPS and cached per JWKS URL.

Keys are kept for `max_age` seconds. A token signed with a key we do not know triggers one
refetch, at most once per `refresh_interval` per URL, so a flood of tokens with made-up `kid`s
cannot turn the hub into a load generator against the authority.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from shared.errors import Unauthenticated

log = logging.getLogger(__name__)

_RETRY_AFTER_FAILURE = 10.0  # seconds an unreachable authority is not asked again when we have no keys


@dataclass(slots=True)
class _Entry:
    keys: dict[str, Any]  # kid -> public key object
    fetched_at: float


class JwksCache:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        clock: Callable[[], float],
        max_age: float = 24 * 3600,
        refresh_interval: float = 300.0,
    ) -> None:
        self._http = http
        self._clock = clock
        self._max_age = max_age
        self._refresh_interval = refresh_interval
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._failed_at: dict[str, float] = {}
        self._missed_at: dict[str, float] = {}  # last refetch caused by an unknown kid

    async def key(self, url: str, kid: str) -> Any:
        """The public key `kid` published at `url`; Unauthenticated when the authority has none."""
        entry = self._entries.get(url)
        if entry is None or kid not in entry.keys or self._clock() - entry.fetched_at >= self._max_age:
            async with self._locks.setdefault(url, asyncio.Lock()):
                entry = await self._refresh(url, kid)
        if entry is None or kid not in entry.keys:
            raise Unauthenticated(f"no signing key {kid!r} at the authority")
        return entry.keys[kid]

    async def _refresh(self, url: str, kid: str) -> _Entry | None:
        entry = self._entries.get(url)
        now = self._clock()
        if entry is not None:
            expired = now - entry.fetched_at >= self._max_age
            if not expired and kid in entry.keys:
                return entry  # another request fetched it while we waited for the lock
            if not expired and now - self._missed_at.get(url, -self._refresh_interval) < self._refresh_interval:
                return entry  # we looked for an unknown key too recently
            if not expired:
                self._missed_at[url] = now
        elif now - self._failed_at.get(url, -_RETRY_AFTER_FAILURE) < _RETRY_AFTER_FAILURE:
            return None
        try:
            response = await self._http.get(url, timeout=10.0)
            response.raise_for_status()
            keyset = jwt.PyJWKSet.from_dict(response.json())
        except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
            log.warning("could not fetch signing keys from %s: %s", url, type(exc).__name__)
            self._failed_at[url] = now
            if entry is None:
                return None
            # Keep serving the keys we had; look again after one refresh interval, not on every call.
            entry.fetched_at = min(entry.fetched_at, now - self._max_age + self._refresh_interval)
            return entry
        keys = {jwk.key_id: jwk.key for jwk in keyset.keys if jwk.key_id and jwk.public_key_use in (None, "sig")}
        fresh = _Entry(keys, now)
        self._entries[url] = fresh
        return fresh
