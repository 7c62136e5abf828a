"""Which protocol era an upstream speaks: its `server/discover` answer, asked at most every few minutes.

An upstream that lists 2026-07-28 gets a stateless caller's requests statelessly, with the
caller's envelope; any other is reached over handshake-era sessions.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import cast

from shared.errors import UpstreamError
from shared.mcp import jsonrpc
from shared.mcp.envelope import routing_headers
from shared.mcp.jsonrpc import JsonObject, Request
from shared.mcp.versions import (
    CLIENT_CAPABILITIES_META_KEY,
    CLIENT_INFO_META_KEY,
    MODERN_VERSIONS,
    PROTOCOL_VERSION_META_KEY,
)
from shared.settings import ServerSettings
from shared.upstreams.client import UpstreamClient

log = logging.getLogger(__name__)

ERA_TTL_SECONDS = 300.0  # how long what an upstream's server/discover said is believed
_DISCOVER_LIMIT = 64 * 1024


class EraProbe:
    def __init__(self, client: UpstreamClient, client_info: JsonObject, *, clock: Callable[[], float]) -> None:
        self._client = client
        self._client_info = client_info
        self._clock = clock
        self._known: dict[str, tuple[bool, float]] = {}  # server -> (speaks 2026-07-28, when we asked)
        self._results: dict[str, JsonObject] = {}  # server -> its last server/discover result
        self._ids = itertools.count(1)

    async def speaks_stateless(
        self, server: ServerSettings, credentials: Callable[[], Awaitable[Mapping[str, str]]]
    ) -> bool:
        """Whether `server` serves 2026-07-28; a failed or refused answer counts as "no" until asked again."""
        known = self._known.get(server.name)
        now = self._clock()
        if known is not None and now - known[1] < ERA_TTL_SECONDS:
            return known[0]
        version = MODERN_VERSIONS[-1]
        meta = {
            PROTOCOL_VERSION_META_KEY: version,
            CLIENT_CAPABILITIES_META_KEY: {},
            CLIENT_INFO_META_KEY: self._client_info,
        }
        discover = Request(f"mcphub-discover-{next(self._ids)}", "server/discover", {"_meta": meta})
        routing = routing_headers(discover.method, discover.params, version)
        headers = {name.lower(): value for name, value in routing.items()}
        headers |= {"content-type": "application/json", "accept": "application/json, text/event-stream"}
        speaks = False
        try:
            # The raw path: a handshake-only server's 4xx answer is no failure of the server (breaker).
            reply = await self._client.passthrough(
                server, headers, jsonrpc.dumps(discover.to_wire()), await credentials()
            )
            body = b""
            chunks = reply.body
            try:
                async for chunk in chunks:
                    body += chunk
                    if len(body) > _DISCOVER_LIMIT:
                        break
            finally:
                aclose = getattr(chunks, "aclose", None)
                if aclose is not None:
                    await aclose()
            result = discover_result(body)
            speaks = reply.status == 200 and version in supported_versions(body)
            if speaks and result is not None:
                self._results[server.name] = result
        except UpstreamError as error:
            log.info("upstream %r did not answer server/discover (%s): using sessions", server.name, error.message)
        self._known[server.name] = (speaks, now)
        return speaks

    def discovered(self, server: ServerSettings) -> JsonObject | None:
        """What `server` last answered to server/discover, when it speaks 2026-07-28."""
        return self._results.get(server.name)


def discover_result(body: bytes) -> JsonObject | None:
    """The result of a server/discover answer sent as JSON or as one event; None otherwise."""
    text = body.decode(errors="replace").strip()
    if not text.startswith("{"):
        data = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]
        text = data[0] if data else ""
    try:
        answer: object = json.loads(text)
    except ValueError:
        return None
    result = cast(JsonObject, answer).get("result") if isinstance(answer, dict) else None
    return cast(JsonObject, result) if isinstance(result, dict) else None


def supported_versions(body: bytes) -> list[object]:
    """`supportedVersions` of a server/discover answer sent as JSON or as one event; [] otherwise."""
    result = discover_result(body)
    supported = result.get("supportedVersions") if result is not None else None
    return cast(list[object], supported) if isinstance(supported, list) else []


def without_streams(capabilities: JsonObject) -> JsonObject:
    """A server's capabilities as a client of the other era may rely on them through the bridge
    of `/mcp/{server}`: no list changes or resource updates (no stream carries them across) and no
    logging level (2026-07-28 removed logging/setLevel)."""
    kept: JsonObject = {}
    for name, value in capabilities.items():
        if name == "logging":
            continue
        if name in ("tools", "prompts", "resources") and isinstance(value, dict):
            value = {k: v for k, v in cast(JsonObject, value).items() if k not in ("listChanged", "subscribe")}
        kept[name] = value
    return kept
