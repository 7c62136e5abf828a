"""Per-instance cache of each upstream's lists (tools, prompts, resources, templates).

Keys are server names, or `<server>\0<user>` for servers that see each user's own credential
(their lists may differ per user). A fresh entry is served without calling the upstream;
`list_changed` from an upstream drops its entries. When a refresh fails the last good list is
served and reported stale, so a dead upstream never empties the aggregated `tools/list`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from shared.errors import UpstreamError

LIST_KEYS = {
    "tools/list": "tools",
    "prompts/list": "prompts",
    "resources/list": "resources",
    "resources/templates/list": "resourceTemplates",
}
CHANGED_NOTIFICATIONS = {
    "notifications/tools/list_changed": ("tools/list",),
    "notifications/prompts/list_changed": ("prompts/list",),
    "notifications/resources/list_changed": ("resources/list", "resources/templates/list"),
}


@dataclass(frozen=True, slots=True)
class Listing:
    items: list[dict[str, Any]]
    fetched_at: float
    stale: bool = False


class Catalog:
    def __init__(self, *, ttl_seconds: float, clock: Callable[[], float]) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[tuple[str, str], Listing] = {}

    def peek(self, server: str, method: str) -> Listing | None:
        return self._entries.get((server, method))

    async def get(self, server: str, method: str, fetch: Callable[[], Awaitable[list[dict[str, Any]]]]) -> Listing:
        """The list, fetched if missing or older than the TTL; last-good (stale) if fetching fails."""
        key = (server, method)
        now = self._clock()
        entry = self._entries.get(key)
        if entry is not None and not entry.stale and now - entry.fetched_at < self._ttl:
            return entry
        try:
            items = await fetch()
        except UpstreamError:
            if entry is None:
                raise
            stale = Listing(entry.items, entry.fetched_at, stale=True)
            self._entries[key] = stale
            return stale
        fresh = Listing(items, now)
        self._entries[key] = fresh
        return fresh

    def last_good(self, server: str) -> tuple[float, bool] | None:
        """(seconds since the newest tools list of `server` was fetched, whether it is stale)."""
        entries = [v for k, v in self._entries.items() if k[1] == "tools/list" and k[0].split("\0", 1)[0] == server]
        if not entries:
            return None
        newest = max(entries, key=lambda e: e.fetched_at)
        return self._clock() - newest.fetched_at, newest.stale

    def invalidate(self, server: str, notification: str) -> bool:
        """Drop the server's lists (every user's view of them) that `notification` says changed."""
        methods = CHANGED_NOTIFICATIONS.get(notification, ())
        if methods:
            for key in [k for k in self._entries if k[1] in methods and k[0].split("\0", 1)[0] == server]:
                del self._entries[key]
        return bool(methods)
