"""A time-ordered log of one kind of record in the grant store (routing, capacity and retraining
decisions): each kept `days`, read back newest first."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable
from typing import Any

from shared.identity.grants import GrantStore


class DecisionLog:
    def __init__(self, store: GrantStore, kind: str, *, clock: Callable[[], float], days: float) -> None:
        self._store = store
        self._kind = kind
        self._clock = clock
        self._days = days
        self._sequence = itertools.count()

    async def add(self, value: dict[str, Any], *, at: float) -> None:
        # Sorts by time, then by order made here; the random tail keeps instances from colliding.
        key = f"{int(at * 1000):013d}-{next(self._sequence):08d}-{secrets.token_hex(3)}"
        await self._store.put(self._kind, key, value, expires_at=at + self._days * 86400)

    async def recent(self, limit: int) -> list[dict[str, Any]]:
        items = await self._store.items(self._kind, now=self._clock())
        return [value for _, value in sorted(items, reverse=True)[:limit]]
