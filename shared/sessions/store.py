"""The SessionStore seam. Implementations: `memory.MemorySessionStore`, `table.TableSessionStore`."""

from __future__ import annotations

from typing import Protocol

from shared.sessions.model import SessionRecord, UpstreamSession


class SessionStore(Protocol):
    """Durable session storage shared by every hub instance in every region.

    Contract (tests/contract/test_session_store.py runs it against every implementation):
    - `get` returns None for an unknown, deleted or expired session (expiry uses `ttl_seconds`).
    - `put_upstream` and `touch` are merges: they change only their own fields, so two instances
      writing different upstreams of one session never lose each other's writes. Both return
      False when the session no longer exists (so a deleted session is noticed on the next touch).
    """

    async def create(self, record: SessionRecord) -> None: ...

    async def get(self, session_id: str, *, now: float, ttl_seconds: float) -> SessionRecord | None: ...

    async def put_upstream(self, session_id: str, server: str, upstream: UpstreamSession) -> bool: ...

    async def touch(self, session_id: str, last_seen: float) -> bool: ...

    async def delete(self, session_id: str) -> bool: ...

    async def discard(self, session_id: str) -> None:
        """Delete without finding out whether it existed (one round trip fewer than `delete`)."""
        ...

    async def purge_expired(self, *, now: float, ttl_seconds: float) -> int: ...

    async def count_live(self, *, now: float, ttl_seconds: float, tenant: str | None = None) -> int:
        """How many sessions were seen within the last `ttl_seconds` (for the operator page), of
        users of `tenant` only when given (owners are "<tenant id>:<object id>")."""
        ...
