"""Handshake-era MCP sessions: a Protocol, an in-memory and a Table Storage implementation, a cache."""

from shared.sessions.model import SessionRecord, UpstreamSession
from shared.sessions.store import SessionStore

__all__ = ["SessionRecord", "SessionStore", "UpstreamSession"]
