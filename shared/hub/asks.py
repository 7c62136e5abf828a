"""Requests the hub itself sends a client (sampling), whose answers may reach any instance.

The request goes out on the SSE stream of the client's POST, held by one instance; the client
POSTs its answer to the MCP URL, and a load balancer without affinity may hand that POST to any
instance. The ID says it is ours and is signed for the client's session, so no other session can
answer it. The receiving instance hands the answer over directly when it is the one waiting, and
otherwise leaves it in the grants table, where the waiting instance looks for it (polling with a
growing interval, up to a deadline).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from shared.errors import InvalidRequest, UpstreamTimeout
from shared.identity.grants import GrantStore
from shared.mcp.jsonrpc import JsonObject, RequestId, Response

PREFIX = "mcphub-ask."
_KIND = "ask-answer"
_MAX_ANSWER = 48_000  # bytes of JSON: a Table property holds 64 KiB
_FIRST_POLL, _LAST_POLL = 0.05, 0.5
# Waits through the store poll every 20 ms for the first 0.5 s (a model's or a script's answer
# usually comes that soon), then every 50 ms growing to 0.5 s.
EAGER_POLL, _EAGER_SECONDS = 0.02, 0.5


def next_poll(interval: float, waited: float) -> float:
    """How long to wait before the next look in the store, `waited` seconds into a wait."""
    return EAGER_POLL if waited < _EAGER_SECONDS else min(max(interval, _FIRST_POLL) * 1.5, _LAST_POLL)


@dataclass(frozen=True, slots=True)
class Answer:
    result: JsonObject | None
    error: JsonObject | None


class Asks:
    def __init__(
        self,
        key: bytes,
        store: GrantStore,
        *,
        clock: Callable[[], float],
        timeout_seconds: float = 120.0,
    ) -> None:
        self.key = key  # the hub's relay key: the bridge derives its own from it
        self.store = store
        self.clock = clock
        self._key = hashlib.sha256(b"mcphub-ask\0" + key).digest()
        self.timeout_seconds = timeout_seconds
        self._waiting: dict[str, asyncio.Future[Answer]] = {}

    def new(self, hub_session: str) -> str:
        """An ID for a request to the client of `hub_session`; `wait` for its answer."""
        nonce = secrets.token_urlsafe(16)
        self._waiting[nonce] = asyncio.get_running_loop().create_future()
        return f"{PREFIX}{nonce}.{self._sign(hub_session, nonce)}"

    @staticmethod
    def owns(request_id: RequestId | None) -> bool:
        return isinstance(request_id, str) and request_id.startswith(PREFIX)

    async def deliver(self, hub_session: str, response: Response) -> None:
        """Take the client's answer to one of our requests (on whichever instance it arrived)."""
        nonce = self._nonce(hub_session, response.id)
        if nonce is None:
            raise InvalidRequest("this response answers no request the hub sent this session")
        answer = Answer(response.result, response.error)
        waiting = self._waiting.get(nonce)
        if waiting is not None:
            if not waiting.done():
                waiting.set_result(answer)
            return
        value = {"result": answer.result, "error": answer.error}
        if len(json.dumps(value)) > _MAX_ANSWER:
            value = {"result": None, "error": {"code": -32600, "message": "the answer was too large to pass on"}}
        await self.store.put(_KIND, nonce, value, expires_at=self.clock() + self.timeout_seconds)

    async def wait(self, ask_id: str) -> Answer:
        """The client's answer; UpstreamTimeout when none came in time."""
        nonce = ask_id[len(PREFIX) :].rpartition(".")[0]
        future = self._waiting[nonce]
        started = self.clock()
        deadline = started + self.timeout_seconds
        interval = EAGER_POLL
        try:
            while True:
                if future.done():  # answered here, maybe at the deadline itself
                    return future.result()
                remaining = deadline - self.clock()
                if remaining <= 0:
                    stored = await self.store.take(_KIND, nonce, now=self.clock())  # left there just in time
                    if stored is not None:
                        return Answer(stored.get("result"), stored.get("error"))
                    raise UpstreamTimeout(
                        "client", f"the client did not answer the hub's request within {self.timeout_seconds:g} s"
                    )
                try:
                    return await asyncio.wait_for(asyncio.shield(future), min(interval, remaining))
                except TimeoutError:
                    pass
                stored = await self.store.take(_KIND, nonce, now=self.clock())
                if stored is not None:
                    return Answer(stored.get("result"), stored.get("error"))
                interval = next_poll(interval, self.clock() - started)
        finally:
            self._waiting.pop(nonce, None)
            future.cancel()

    def forget(self, ask_id: str) -> None:
        """Stop expecting an answer (the caller went away before waiting)."""
        nonce = ask_id[len(PREFIX) :].rpartition(".")[0]
        future = self._waiting.pop(nonce, None)
        if future is not None:
            future.cancel()

    def _nonce(self, hub_session: str, request_id: RequestId | None) -> str | None:
        if not self.owns(request_id):
            return None
        nonce, _, signature = str(request_id)[len(PREFIX) :].rpartition(".")
        if not nonce or not hmac.compare_digest(signature, self._sign(hub_session, nonce)):
            return None
        return nonce

    def _sign(self, hub_session: str, nonce: str) -> str:
        mac = hmac.new(self._key, f"{hub_session}\0{nonce}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:18]).decode()
