"""Sessions as the request path sees them: a per-instance cache in front of the shared store.

A session's immutable part never changes after `initialize`, so each instance may cache it.
Costs per request: warm session, no Table round trip; cold session, exactly one (the read).
`last_seen` is written at most once per `touch_seconds` per instance, off the request path; that
write also notices a session that another instance deleted, which is then dropped from the cache.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace

from shared.background import BackgroundTasks
from shared.errors import ForeignSession, SessionNotFound
from shared.sessions.model import SessionRecord, UpstreamSession
from shared.sessions.store import SessionStore

log = logging.getLogger(__name__)

# Unknown, expired, deleted and someone else's sessions all read the same (no oracle).
SESSION_GONE = "session not found or expired; send a new initialize request without Mcp-Session-Id"


class SessionCache:
    def __init__(
        self,
        store: SessionStore,
        *,
        clock: Callable[[], float],
        ttl_seconds: float,
        touch_seconds: float,
        max_entries: int,
    ) -> None:
        self._store = store
        self._clock = clock
        self._ttl = ttl_seconds
        self._touch = touch_seconds
        self._max = max_entries
        self._entries: OrderedDict[str, tuple[SessionRecord, float]] = OrderedDict()
        self._background = BackgroundTasks()

    @property
    def store(self) -> SessionStore:
        return self._store

    async def create(self, record: SessionRecord) -> SessionRecord:
        now = self._clock()
        record = replace(record, created_at=now, last_seen=now)
        await self._store.create(record)
        self._remember(record, now)
        return record

    async def load(self, session_id: str, owner: str) -> SessionRecord:
        """The session, or SessionNotFound — also when it belongs to someone else (no oracle)."""
        now = self._clock()
        cached = self._entries.get(session_id)
        if cached is not None:
            record, validated_at = cached
            self._entries.move_to_end(session_id)
            if now - validated_at >= self._touch:
                record = replace(record, last_seen=now)
                self._remember(record, now)
                self._background.spawn(self._revalidate(session_id, now))
        else:
            loaded = await self._store.get(session_id, now=now, ttl_seconds=self._ttl)
            if loaded is None:
                raise SessionNotFound(SESSION_GONE)
            record = loaded
            if now - record.last_seen >= self._touch:
                record = replace(record, last_seen=now)
                self._background.spawn(self._revalidate(session_id, now))
            self._remember(record, now)
        if record.owner != owner:
            raise ForeignSession(SESSION_GONE)  # the same answer as unknown: no oracle, but audited
        if record.expired(now, self._ttl):
            raise SessionNotFound(SESSION_GONE)
        return record

    def peek(self, session_id: str) -> SessionRecord | None:
        cached = self._entries.get(session_id)
        return cached[0] if cached else None

    async def refresh(self, session_id: str) -> SessionRecord | None:
        """Re-read from the store (another instance may have added upstream sessions)."""
        now = self._clock()
        record = await self._store.get(session_id, now=now, ttl_seconds=self._ttl)
        if record is None:
            self._entries.pop(session_id, None)
            return None
        self._remember(record, now)
        return record

    async def put_upstream(self, record: SessionRecord, server: str, upstream: UpstreamSession) -> SessionRecord:
        updated = record.with_upstream(server, upstream)
        if not await self._store.put_upstream(record.session_id, server, upstream):
            self._entries.pop(record.session_id, None)
            raise SessionNotFound(SESSION_GONE)
        cached = self._entries.get(record.session_id)
        merged = cached[0].with_upstream(server, upstream) if cached else updated
        self._remember(merged, cached[1] if cached else self._clock())
        return merged

    async def delete(self, session_id: str, owner: str) -> None:
        record = await self.load(session_id, owner)  # the owner's check; found, or SessionNotFound
        self._entries.pop(record.session_id, None)
        await self._store.discard(record.session_id)

    def forget(self, session_id: str) -> None:
        self._entries.pop(session_id, None)

    async def drain(self) -> None:
        """Wait for background writes (tests, and graceful shutdown)."""
        await self._background.drain()

    def _remember(self, record: SessionRecord, validated_at: float) -> None:
        if self._max <= 0:
            return
        self._entries[record.session_id] = (record, validated_at)
        self._entries.move_to_end(record.session_id)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    async def _revalidate(self, session_id: str, now: float) -> None:
        try:
            alive = await self._store.touch(session_id, now)
        except Exception:  # a failed touch must not fail a request; the next one retries
            log.warning("could not record last-seen for a session", exc_info=True)
            return
        if not alive:
            self._entries.pop(session_id, None)
