"""Session IDs that say when they were issued, so an instance can tell a session still being
written from one that never existed.

The hub answers `initialize` before the session's Table insert lands (`SessionCache`'s
write-behind). The client's next request may reach another instance first, which then finds no
row. An ID this hub issued in the last few seconds is worth waiting for; any other unknown ID is
answered 404 at once, as before.

An ID is 32 bytes in URL-safe base64 (43 characters, the shape `well_formed_session_id` accepts):
6 bytes of issue time in milliseconds, 16 random bytes (128 bits nobody can guess), and the first
10 bytes of an HMAC-SHA256 over both, with the hub's relay key. Every instance derives the same
key, so each can read any instance's stamp. A forged or older ID (fully random, from before
write-behind) has no valid stamp: it reads as "not recent" and costs one storage read, as always.
The issue time is not secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from shared.sessions.model import well_formed_session_id

_TIME, _RANDOM, _MAC = 6, 16, 10


class SessionIds:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def issue(self, now: float) -> str:
        body = int(now * 1000).to_bytes(_TIME, "big") + secrets.token_bytes(_RANDOM)
        return base64.urlsafe_b64encode(body + self._mac(body)).rstrip(b"=").decode()

    def issued_at(self, session_id: str) -> float | None:
        """When this hub issued `session_id` (seconds), or None if it carries no valid stamp."""
        if not well_formed_session_id(session_id):
            return None
        try:
            raw = base64.urlsafe_b64decode(session_id + "=")
        except (binascii.Error, ValueError):
            return None
        body, mac = raw[: _TIME + _RANDOM], raw[_TIME + _RANDOM :]
        if not hmac.compare_digest(mac, self._mac(body)):
            return None
        return int.from_bytes(body[:_TIME], "big") / 1000

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._key, b"mcphub-session\0" + body, hashlib.sha256).digest()[:_MAC]
