"""Request IDs for server→client requests relayed through the hub (sampling, elicitation, roots).

The upstream's request reaches the client with an ID that says where the answer must go: the
upstream, our session with it, and its original ID, bound to the client's hub session and signed.
The client's answer may reach any hub instance; none needs memory of the request to route it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

from shared.mcp.jsonrpc import RequestId

PREFIX = "mcphub-relay."


@dataclass(frozen=True, slots=True)
class RelayTarget:
    server: str
    upstream_session: str | None
    upstream_id: RequestId


class RelayCodec:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def encode(self, hub_session: str, target: RelayTarget) -> str:
        payload = json.dumps([target.server, target.upstream_session, target.upstream_id], separators=(",", ":"))
        body = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
        return f"{PREFIX}{body}.{self._sign(hub_session, body)}"

    def decode(self, hub_session: str, relay_id: RequestId) -> RelayTarget | None:
        """The target, or None when the ID is not ours, was tampered with, or is another session's."""
        if not isinstance(relay_id, str) or not relay_id.startswith(PREFIX):
            return None
        body, _, signature = relay_id[len(PREFIX) :].rpartition(".")
        if not hmac.compare_digest(signature, self._sign(hub_session, body)):
            return None
        try:
            server, session, upstream_id = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except (ValueError, TypeError):
            return None
        return RelayTarget(server, session, upstream_id)

    def _sign(self, hub_session: str, body: str) -> str:
        mac = hmac.new(self._key, f"{hub_session}\0{body}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:18]).decode()
