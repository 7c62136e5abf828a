"""In-memory SessionStore for tests and single-process use; passes the same contract suite as Table."""

from __future__ import annotations

from dataclasses import replace

from shared.sessions.model import SessionRecord, UpstreamSession


class MemorySessionStore:
    def __init__(self) -> None:
        self._records: dict[str, SessionRecord] = {}

    async def create(self, record: SessionRecord) -> None:
        if record.session_id in self._records:
            raise ValueError("session id already exists")
        self._records[record.session_id] = record

    async def get(self, session_id: str, *, now: float, ttl_seconds: float) -> SessionRecord | None:
        record = self._records.get(session_id)
        if record is None or record.expired(now, ttl_seconds):
            return None
        return record

    async def put_upstream(self, session_id: str, server: str, upstream: UpstreamSession) -> bool:
        record = self._records.get(session_id)
        if record is None:
            return False
        self._records[session_id] = record.with_upstream(server, upstream)
        return True

    async def touch(self, session_id: str, last_seen: float) -> bool:
        record = self._records.get(session_id)
        if record is None:
            return False
        self._records[session_id] = replace(record, last_seen=last_seen)
        return True

    async def delete(self, session_id: str) -> bool:
        return self._records.pop(session_id, None) is not None

    async def discard(self, session_id: str) -> None:
        self._records.pop(session_id, None)

    async def count_live(self, *, now: float, ttl_seconds: float, tenant: str | None = None) -> int:
        owned = f"{tenant}:"
        return sum(
            not record.expired(now, ttl_seconds) and (tenant is None or record.owner.startswith(owned))
            for record in self._records.values()
        )

    async def purge_expired(self, *, now: float, ttl_seconds: float) -> int:
        dead = [key for key, record in self._records.items() if record.expired(now, ttl_seconds)]
        for key in dead:
            del self._records[key]
        return len(dead)
