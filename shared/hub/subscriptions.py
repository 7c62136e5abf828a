"""`subscriptions/listen` on the aggregated `/mcp` (2026-07-28): one stream of what the client opted in to.

The stream opens with `notifications/subscriptions/acknowledged`, then carries list changes and
resource updates from every server the caller may use, each tagged with the subscription ID (the
listen request's ID). Upstreams of that era are asked with their own `subscriptions/listen`;
older ones are heard on the standalone stream of this instance's pooled session. Whichever
instance holds the stream serves it: nothing about it is stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

from shared.errors import HubError, InvalidParams
from shared.hub.aggregate import Aggregator
from shared.hub.upstream_sessions import SessionContext, UpstreamSessions
from shared.identity.access import stepped_up
from shared.mcp import jsonrpc, sse
from shared.mcp.jsonrpc import JsonObject, Message, Notification, Request, RequestId
from shared.settings import ServerSettings

log = logging.getLogger(__name__)

SUBSCRIPTION_ID_META_KEY = "io.modelcontextprotocol/subscriptionId"
ACKNOWLEDGED = "notifications/subscriptions/acknowledged"
LIST_CHANGES = {
    "toolsListChanged": "notifications/tools/list_changed",
    "promptsListChanged": "notifications/prompts/list_changed",
    "resourcesListChanged": "notifications/resources/list_changed",
}
UPDATED = "notifications/resources/updated"
_RECONNECT_SECONDS = (1.0, 2.0, 5.0, 15.0)  # between attempts to reopen an upstream's stream


@dataclass(frozen=True, slots=True)
class Wanted:
    """What the client opted in to: notification methods, and resource URIs as it names them."""

    methods: frozenset[str]
    resources: frozenset[str]

    @staticmethod
    def parse(params: JsonObject) -> Wanted:
        raw = params.get("notifications")
        if not isinstance(raw, dict):
            raise InvalidParams("subscriptions/listen needs params.notifications (a SubscriptionFilter object)")
        chosen = cast(dict[str, Any], raw)
        raw_uris: object = chosen.get("resourceSubscriptions") or []
        uris = cast(list[object], raw_uris) if isinstance(raw_uris, list) else None
        if uris is None or not all(isinstance(u, str) for u in uris):
            raise InvalidParams("notifications.resourceSubscriptions must be a list of resource URIs")
        methods = {method for key, method in LIST_CHANGES.items() if chosen.get(key) is True}
        return Wanted(frozenset(methods), frozenset(str(u) for u in uris))

    def accepts(self, message: Notification) -> bool:
        if message.method == UPDATED:
            return message.params.get("uri") in self.resources
        return message.method in self.methods


class Subscriptions:
    def __init__(
        self,
        upstreams: UpstreamSessions,
        aggregator: Aggregator,
        *,
        keepalive_seconds: float,
        streams: sse.OpenStreams,
    ) -> None:
        self._upstreams = upstreams
        self._aggregator = aggregator
        self._keepalive = keepalive_seconds
        self._streams = streams

    async def open(self, ctx: SessionContext, request: Request) -> AsyncIterator[bytes]:
        """The listen stream's events: checked and acknowledged before the first byte goes out."""
        wanted = Wanted.parse(request.params)
        servers = [s for s in self._aggregator.visible(ctx) if stepped_up(ctx.principal, s)]
        resources: dict[str, set[str]] = {}
        agreed_uris: list[str] = []
        for uri in sorted(wanted.resources):
            try:
                server, original = self._aggregator.resolve_uri(ctx, uri)
            except HubError:
                continue  # not a resource of a server this caller may use: left out of the acknowledgement
            if await self._upstreams.speaks_stateless(server):
                resources.setdefault(server.name, set()).add(original)
                agreed_uris.append(uri)
        agreed: JsonObject = {key: True for key, method in LIST_CHANGES.items() if method in wanted.methods}
        if agreed_uris:
            agreed["resourceSubscriptions"] = agreed_uris
        ack = Notification(ACKNOWLEDGED, {"notifications": agreed})
        return self._stream(ctx, request.id, wanted, servers, resources, ack)

    async def _stream(
        self,
        ctx: SessionContext,
        subscription: RequestId,
        wanted: Wanted,
        servers: list[ServerSettings],
        resources: dict[str, set[str]],
        ack: Notification,
    ) -> AsyncIterator[bytes]:
        yield _tagged(ack, subscription)

        def pump(server: ServerSettings) -> sse.Pump:
            uris = sorted(resources.get(server.name, ()))
            return lambda queue: self._pump(ctx, server, wanted, uris, subscription, queue)

        async for chunk in sse.merged([pump(server) for server in servers], self._keepalive, self._streams):
            yield chunk

    async def _pump(
        self,
        ctx: SessionContext,
        server: ServerSettings,
        wanted: Wanted,
        uris: list[str],
        subscription: RequestId,
        queue: asyncio.Queue[bytes],
    ) -> None:
        """Hear `server` until the client leaves, reopening its stream when it ends."""
        attempt = 0
        while True:
            try:
                async for message in self._source(ctx, server, wanted, uris):
                    if not isinstance(message, Notification) or message.method == ACKNOWLEDGED:
                        continue
                    seen = self._aggregator.outbound(server, message)  # hub URIs; drops stale cached lists
                    if isinstance(seen, Notification) and wanted.accepts(seen):
                        await queue.put(_tagged(seen, subscription))
            except HubError as error:
                log.info("notification stream of upstream %r ended: %s", server.name, error.message)
            await asyncio.sleep(_RECONNECT_SECONDS[min(attempt, len(_RECONNECT_SECONDS) - 1)])
            attempt += 1

    async def _source(
        self, ctx: SessionContext, server: ServerSettings, wanted: Wanted, uris: list[str]
    ) -> AsyncIterator[Message]:
        if ctx.envelope is not None and await self._upstreams.speaks_stateless(server):
            chosen: JsonObject = {key: True for key, method in LIST_CHANGES.items() if method in wanted.methods}
            if uris:
                chosen["resourceSubscriptions"] = uris
            listen = Request(f"mcphub-listen-{id(ctx)}", "subscriptions/listen", {"notifications": chosen})
            async for message in self._upstreams.forward(ctx, server, listen):
                yield message
            return
        async for message in self._upstreams.listen(ctx, server):
            yield message


def _tagged(message: Notification, subscription: RequestId) -> bytes:
    """The notification as an event of the subscription: its ID in `_meta`, as the era requires."""
    meta = {**cast(JsonObject, message.params.get("_meta") or {}), SUBSCRIPTION_ID_META_KEY: subscription}
    tagged = Notification(message.method, {**message.params, "_meta": meta})
    return sse.encode_event(jsonrpc.dumps(tagged.to_wire()))
