"""What the hub remembers about one handshake-era MCP session."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True, slots=True)
class UpstreamSession:
    """The hub's own session with one upstream, on behalf of one client session."""

    session_id: str | None
    protocol_version: str


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A client session. Everything but `upstreams` and `last_seen` is fixed at `initialize`.

    `route` is "" for the aggregated `/mcp` endpoint, or the server name for `/mcp/{server}`.
    `owner` is the user the session is bound to; another user presenting the ID gets 404.
    """

    session_id: str
    route: str
    owner: str
    protocol_version: str
    client_capabilities: dict[str, Any] = field(default_factory=dict[str, Any])
    client_info: dict[str, Any] = field(default_factory=dict[str, Any])
    upstreams: dict[str, UpstreamSession] = field(default_factory=dict[str, UpstreamSession])
    created_at: float = 0.0
    last_seen: float = 0.0

    def with_upstream(self, server: str, upstream: UpstreamSession) -> SessionRecord:
        return replace(self, upstreams={**self.upstreams, server: upstream})

    def expired(self, now: float, ttl_seconds: float) -> bool:
        return now - self.last_seen > ttl_seconds


_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{43}")


def new_session_id() -> str:
    """256 random bits, URL-safe and visible ASCII as the transport spec requires."""
    return secrets.token_urlsafe(32)


def well_formed_session_id(session_id: str) -> bool:
    """True for what `new_session_id` makes: anything else was never issued, and must not reach storage
    (Table Storage refuses `/`, `\\`, `#`, `?` and control characters in keys)."""
    return _SESSION_ID.fullmatch(session_id) is not None
