"""Sessions as the request path sees them: a per-instance cache in front of the shared store.

A session's immutable part never changes after `initialize`, so each instance may cache it.
Costs per request: warm session, no Table round trip; cold session, exactly one (the read).
`last_seen` is written at most once per `touch_seconds` per instance, off the request path; that
write also notices a session that another instance deleted, which is then dropped from the cache.

With `write_behind_seconds` > 0, `create` returns before the Table insert lands: the insert (about
4-5 ms on Azurite, the largest part of the hub's `initialize`) runs in the background, and this
instance serves the session from its cache meanwhile. Its own later writes to the session wait for
the insert first. Another instance that finds no row for an ID stamped (`SessionIds`) within the
last `write_behind_seconds` reads again a few times before it answers 404. If the insert fails
after its retries, the session is dropped here too, and the client is told to start a new one (404,
as for any session the hub lost).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace

from shared.background import BackgroundTasks
from shared.errors import ForeignSession, SessionNotFound
from shared.sessions.ids import SessionIds
from shared.sessions.model import SessionRecord, UpstreamSession, new_session_id
from shared.sessions.store import SessionStore

log = logging.getLogger(__name__)

# Unknown, expired, deleted and someone else's sessions all read the same (no oracle).
SESSION_GONE = "session not found or expired; send a new initialize request without Mcp-Session-Id"
# Waits between a write-behind insert's attempts; after the last, the session is given up.
_INSERT_RETRIES = (0.05, 0.2, 0.5)
# An insert still pending after this long (a healthy store answers in a few ms) or one that failed
# makes the store suspect: new sessions are then written before the answer, so a frozen or dead
# store gets its fast 503 at initialize again, until an insert succeeds.
_SUSPECT_AFTER_SECONDS = 0.1


class SessionCache:
    def __init__(
        self,
        store: SessionStore,
        *,
        clock: Callable[[], float],
        ttl_seconds: float,
        touch_seconds: float,
        max_entries: int,
        ids: SessionIds | None = None,
        write_behind_seconds: float = 0.0,
    ) -> None:
        self._store = store
        self._ids = ids
        # Write-behind needs the cache (it serves the session until the row lands) and stamped IDs.
        self._write_behind = write_behind_seconds if ids is not None and max_entries > 0 else 0.0
        self._pending: dict[str, tuple[float, asyncio.Future[bool]]] = {}  # oldest first
        self._suspect = False
        # Sessions ended here lately: not waited for as if still being written (see `_written_soon`).
        self._ended: OrderedDict[str, None] = OrderedDict()
        self._clock = clock
        self._ttl = ttl_seconds
        self._touch = touch_seconds
        self._max = max_entries
        self._entries: OrderedDict[str, tuple[SessionRecord, float]] = OrderedDict()
        self._background = BackgroundTasks()

    @property
    def store(self) -> SessionStore:
        return self._store

    def new_id(self) -> str:
        return self._ids.issue(self._clock()) if self._ids is not None else new_session_id()

    async def create(self, record: SessionRecord) -> SessionRecord:
        now = self._clock()
        record = replace(record, created_at=now, last_seen=now)
        if self._write_behind <= 0 or self._store_suspect():
            await self._store.create(record)
            self._suspect = False
            self._remember(record, now)
            return record
        self._remember(record, now)
        loop = asyncio.get_running_loop()
        landed = loop.create_future()
        self._pending[record.session_id] = (loop.time(), landed)
        self._background.spawn(self._insert(record, landed))
        return record

    def _store_suspect(self) -> bool:
        if self._suspect:
            return True
        oldest = next(iter(self._pending.values()), None)
        return oldest is not None and asyncio.get_running_loop().time() - oldest[0] > _SUSPECT_AFTER_SECONDS

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
            await self._landed(session_id)
            loaded = await self._store.get(session_id, now=now, ttl_seconds=self._ttl)
            if loaded is None:
                loaded = await self._written_soon(session_id, now)
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
        await self._landed(session_id)
        now = self._clock()
        record = await self._store.get(session_id, now=now, ttl_seconds=self._ttl)
        if record is None:
            self._entries.pop(session_id, None)
            return None
        self._remember(record, now)
        return record

    async def put_upstream(self, record: SessionRecord, server: str, upstream: UpstreamSession) -> SessionRecord:
        updated = record.with_upstream(server, upstream)
        await self._landed(record.session_id)
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
        if self._write_behind > 0:
            self._ended[record.session_id] = None
            while len(self._ended) > self._max:
                self._ended.popitem(last=False)
        await self._landed(record.session_id)
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

    async def _insert(self, record: SessionRecord, landed: asyncio.Future[bool]) -> None:
        """The write-behind insert, retried; on failure the session is dropped here as well."""
        stored = False
        try:
            for attempt, pause in enumerate((*_INSERT_RETRIES, None)):
                try:
                    await self._store.create(record)
                except ValueError:
                    stored = True  # it exists: an earlier attempt landed though its answer was lost
                except Exception:
                    self._suspect = True
                    if pause is None:
                        log.error("could not store a new session after %d attempts; it is dropped", attempt + 1)
                        break
                    log.warning("could not store a new session (attempt %d); retrying", attempt + 1, exc_info=True)
                    await asyncio.sleep(pause)
                    continue
                else:
                    stored = True
                break
        finally:
            if not stored:
                self._entries.pop(record.session_id, None)
            self._pending.pop(record.session_id, None)
            if not landed.done():
                landed.set_result(stored)

    async def _landed(self, session_id: str) -> bool:
        """Waits for this instance's write-behind insert of `session_id`, if one is under way."""
        pending = self._pending.get(session_id)
        return True if pending is None else await asyncio.shield(pending[1])

    async def _written_soon(self, session_id: str, now: float) -> SessionRecord | None:
        """A session another instance issued moments ago and is still writing: read again, with
        growing pauses, until it lands or its stamp is `write_behind_seconds` old."""
        issued = self._ids.issued_at(session_id) if self._ids is not None and self._write_behind > 0 else None
        if issued is None or now - issued < -self._write_behind or session_id in self._ended:
            return None  # not stamped by this hub, or stamped impossibly far ahead of this clock
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(self._write_behind, issued + self._write_behind - now)
        pause = 0.01
        while (left := deadline - loop.time()) > 0:
            await asyncio.sleep(min(pause, left))
            pause *= 2
            record = await self._store.get(session_id, now=self._clock(), ttl_seconds=self._ttl)
            if record is not None:
                return record
        return None

    async def _revalidate(self, session_id: str, now: float) -> None:
        await self._landed(session_id)
        try:
            alive = await self._store.touch(session_id, now)
        except Exception:  # a failed touch must not fail a request; the next one retries
            log.warning("could not record last-seen for a session", exc_info=True)
            return
        if not alive:
            self._entries.pop(session_id, None)
