"""The aggregated endpoint `/mcp`: many upstreams presented as one MCP server.

Lists fan out to every upstream under one deadline; calls route by namespaced name or hub URI.
A dead upstream leaves its last good list (marked stale in `_meta`) and fails only its own calls.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import AsyncGenerator
from typing import Any, cast

from shared.errors import CredentialRequired, InvalidParams, MethodNotFound, UpstreamError
from shared.hub.upstream_sessions import HUB_INFO, SessionContext, UpstreamSessions
from shared.identity.access import check_step_up, stepped_up
from shared.mcp.jsonrpc import JsonObject, Message, Notification, Request, Response
from shared.plugins.api import Caller
from shared.plugins.chain import NO_PLUGINS, PluginChain
from shared.settings import ServerSettings
from shared.upstreams import naming
from shared.upstreams.catalog import LIST_KEYS, Catalog, Listing

log = logging.getLogger(__name__)

_PAGE_CAP = 50
STALE_META = "io.mcphub/stale"
UNAVAILABLE_META = "io.mcphub/unavailable"
STEP_UP_META = "io.mcphub/stepUp"  # servers left out until the caller signs in with their auth context
CONNECT_META = "io.mcphub/connect"  # servers waiting for the user to connect an account: their links
CONNECT_TOOL = "connect_account"
WITHHELD_META = "io.mcphub/withheld"  # servers whose tools a plugin withheld (it refused or failed)
SERVER_META = "io.mcphub/server"

HUB_CAPABILITIES: JsonObject = {
    "tools": {"listChanged": True},
    "prompts": {"listChanged": True},
    "resources": {"subscribe": True, "listChanged": True},
    "logging": {},
    "completions": {},
}


def hub_initialize_result(version: str) -> JsonObject:
    return {
        "protocolVersion": version,
        "capabilities": HUB_CAPABILITIES,
        "serverInfo": HUB_INFO,
        "instructions": "Tools and prompts are named <server>__<name>; resources are mcphub://<server>/<uri>.",
    }


class Aggregator:
    def __init__(
        self,
        servers: dict[str, ServerSettings],
        upstreams: UpstreamSessions,
        catalog: Catalog,
        *,
        fanout_deadline: float,
        plugins: PluginChain = NO_PLUGINS,
    ) -> None:
        self._servers = servers
        self._plugins = plugins
        self._by_namespace = {s.namespace: s for s in servers.values() if not s.verbatim}
        self._verbatim = next((s for s in servers.values() if s.verbatim), None)
        self._upstreams = upstreams
        self._catalog = catalog
        self._deadline = fanout_deadline
        self._indexes: dict[tuple[str, str], tuple[Listing, dict[str, dict[str, Any]]]] = {}

    async def _key(self, ctx: SessionContext, server: ServerSettings) -> str:
        """What shapes a list: the server, the client capabilities it sees for this caller (an
        upstream may offer sampling or elicitation tools only to clients that can answer them), and
        with per-user credentials, the user whose credential it was listed with."""
        key = f"{server.name}\0{capability_shape(await self._upstreams.declared(ctx, server))}"
        return f"{key}\0{ctx.user}" if server.per_user else key

    def visible(self, ctx: SessionContext) -> list[ServerSettings]:
        """The servers this caller may use, in registry order."""
        allowed = ctx.allowed
        return [s for s in self._servers.values() if s.enabled and (allowed is None or s.name in allowed)]

    # ---- lists -------------------------------------------------------------------------------

    async def _fetch(self, ctx: SessionContext, server: ServerSettings, method: str) -> list[dict[str, Any]]:
        key = LIST_KEYS[method]
        items: list[dict[str, Any]] = []
        params: JsonObject = {}
        for _ in range(_PAGE_CAP):
            result = await self._upstreams.request(ctx, server, method, params)
            items.extend(cast(list[dict[str, Any]], result.get(key) or []))
            cursor = result.get("nextCursor")
            if not isinstance(cursor, str) or not cursor:
                break
            params = {"cursor": cursor}
        return items

    async def list(self, ctx: SessionContext, method: str) -> JsonObject:
        """Every visible upstream's list under one deadline; late or failed ones serve their last good list."""

        connect: dict[str, Any] = {}
        withheld: list[str] = []

        async def one(server: ServerSettings) -> tuple[list[dict[str, Any]] | None, bool]:
            found, stale = await listed(server)
            if found is None or method != "tools/list" or not self._plugins.lists(server.name):
                return found, stale
            # What the plugins let this caller see of the server's tools (the cached list stays whole).
            refined = await self._plugins.listed(Caller.of(ctx.principal), server.name, found)
            if refined is None:
                withheld.append(server.name)
                return [], False
            return refined, stale

        async def listed(server: ServerSettings) -> tuple[list[dict[str, Any]] | None, bool]:
            key = server.name
            try:
                async with asyncio.timeout(self._deadline):
                    key = await self._key(ctx, server)
                    listing = await self._catalog.get(key, method, lambda: self._fetch(ctx, server, method))
            except CredentialRequired as needed:
                connect[server.name] = needed.data
                return ([_connect_tool()] if method == "tools/list" else []), False
            except (UpstreamError, TimeoutError) as exc:
                log.warning("%s from upstream %r failed: %s", method, server.name, getattr(exc, "message", "timeout"))
                last_good = self._catalog.peek(key, method)
                return (last_good.items, True) if last_good else (None, False)
            return listing.items, listing.stale

        visible = self.visible(ctx)
        servers = [s for s in visible if stepped_up(ctx.principal, s)]
        step_up = [s.name for s in visible if s not in servers]
        results = await asyncio.gather(*(one(server) for server in servers))
        items: list[dict[str, Any]] = []
        stale: list[str] = []
        unavailable: list[str] = []
        for server, (found, is_stale) in zip(servers, results, strict=True):
            if found is None:
                unavailable.append(server.name)
                continue
            if is_stale:
                stale.append(server.name)
            items.extend(self._expose(server, method, found))
        body: JsonObject = {LIST_KEYS[method]: items}
        meta: JsonObject = {}
        if stale:
            meta[STALE_META] = stale
        if unavailable:
            meta[UNAVAILABLE_META] = unavailable
        if connect:
            meta[CONNECT_META] = connect
        if step_up:
            meta[STEP_UP_META] = step_up
        if withheld:
            meta[WITHHELD_META] = withheld
        if meta:
            body["_meta"] = meta
        return body

    async def tools(self, ctx: SessionContext) -> list[dict[str, Any]]:
        """Every tool the caller of `ctx` can use, as the aggregated list names them."""
        return cast(list[dict[str, Any]], (await self.list(ctx, "tools/list"))["tools"])

    def _expose(self, server: ServerSettings, method: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        exposed: list[dict[str, Any]] = []
        if server.verbatim:  # as the upstream gives them, minus what the operator filtered out
            return [i for i in items if method != "tools/list" or server.exposes_tool(str(i.get("name", "")))]
        for item in items:
            copy = dict(item)
            meta = dict(cast(dict[str, Any], copy.get("_meta") or {}))
            meta[SERVER_META] = server.name
            copy["_meta"] = meta
            if method == "tools/list":
                if not server.exposes_tool(str(item.get("name", ""))):
                    continue
                copy["name"] = naming.exposed_name(server.namespace, str(item.get("name", "")))
            elif method == "prompts/list":
                copy["name"] = naming.exposed_name(server.namespace, str(item.get("name", "")))
            elif method == "resources/list":
                copy["uri"] = naming.exposed_uri(server.name, str(item.get("uri", "")))
            else:
                copy["uriTemplate"] = naming.exposed_uri(server.name, str(item.get("uriTemplate", "")))
            exposed.append(copy)
        return exposed

    # ---- routing -----------------------------------------------------------------------------

    async def resolve_name(
        self, ctx: SessionContext, method: str, exposed: str
    ) -> tuple[ServerSettings, str, dict[str, Any] | None]:
        """(server, original name, the item as listed) for a namespaced tool or prompt; InvalidParams
        when none matches (the item is None for a name the verbatim server answers without listing).

        Always answered from the server's list (cached), never from the name's shape alone: a
        shortened or sanitised name can look like a plain one.
        """
        split = naming.split_name(exposed)
        primary = self._by_namespace.get(split[0]) if split else None
        visible = self.visible(ctx)
        candidates = [s for s in visible if s is primary or s is self._verbatim] + [
            s
            for s in visible
            if s is not primary and not s.verbatim and exposed.startswith(naming.safe_prefix(s.namespace))
        ]
        for server in candidates:
            if server is primary:
                check_step_up(ctx.principal, server)
            elif not stepped_up(ctx.principal, server):
                continue
            try:
                key = await self._key(ctx, server)
                listing = await self._catalog.get(key, method, lambda s=server: self._fetch(ctx, s, method))
            except UpstreamError:
                if server is primary:
                    raise
                continue
            item = self._index(server, key, method, listing).get(exposed)
            original = str(item.get("name", "")) if item is not None else None
            if original is not None and (method != "tools/list" or server.exposes_tool(original)):
                return server, original, item
        if self._answers_unlisted(ctx, visible, method, exposed) and self._verbatim is not None:
            return self._verbatim, exposed, None  # passed through: the server answers for names it did not list
        kind = "tool" if method == "tools/list" else "prompt"
        raise InvalidParams(f"unknown {kind} {exposed!r}; list {kind}s again to see what is available")

    def _answers_unlisted(self, ctx: SessionContext, visible: list[ServerSettings], method: str, name: str) -> bool:
        """Whether the verbatim server gets a name no list showed (it may hide some from lists)."""
        verbatim = self._verbatim
        if verbatim is None or verbatim not in visible or not stepped_up(ctx.principal, verbatim):
            return False
        return method != "tools/list" or verbatim.exposes_tool(name)

    def _index(self, server: ServerSettings, key: str, method: str, listing: Listing) -> dict[str, dict[str, Any]]:
        """exposed name → the item as listed, for one listing, built once per listing."""
        cached = self._indexes.get((key, method))
        if cached is not None and cached[0] is listing:
            return cached[1]
        index: dict[str, dict[str, Any]] = {}
        for item in listing.items:
            name = str(item.get("name", ""))
            index[name if server.verbatim else naming.exposed_name(server.namespace, name)] = item
        self._indexes[(key, method)] = (listing, index)
        return index

    def resolve_uri(self, ctx: SessionContext, uri: object) -> tuple[ServerSettings, str]:
        split = naming.split_uri(uri) if isinstance(uri, str) else None
        server = self._servers.get(split[0]) if split else None
        verbatim = self._verbatim
        if isinstance(uri, str) and (server is None or server.verbatim) and verbatim in self.visible(ctx):
            assert verbatim is not None  # in visible, so not None (tells pyright)
            check_step_up(ctx.principal, verbatim)
            return verbatim, uri  # any URI that names no other server is the verbatim server's own
        if split is None or server is None or server not in self.visible(ctx):
            raise InvalidParams(f"unknown resource {uri!r}: hub resource URIs look like mcphub://<server>/<uri>")
        check_step_up(ctx.principal, server)
        return server, split[1]

    async def route(
        self, ctx: SessionContext, request: Request
    ) -> tuple[ServerSettings, Request, dict[str, Any] | None]:
        """Which upstream serves `request`, the request as that upstream must see it, and (tools/call,
        prompts/get) the tool or prompt as the server lists it."""
        params = dict(request.params)
        method = request.method
        listed: dict[str, Any] | None = None
        if method in ("tools/call", "prompts/get"):
            listing_method = "tools/list" if method == "tools/call" else "prompts/list"
            server, params["name"], listed = await self.resolve_name(ctx, listing_method, str(params.get("name", "")))
        elif method in ("resources/read", "resources/subscribe", "resources/unsubscribe"):
            server, params["uri"] = self.resolve_uri(ctx, params.get("uri"))
        elif method == "completion/complete":
            ref = dict(cast(dict[str, Any], params.get("ref") or {}))
            if ref.get("type") == "ref/prompt":
                server, ref["name"], _ = await self.resolve_name(ctx, "prompts/list", str(ref.get("name", "")))
            else:
                server, ref["uri"] = self.resolve_uri(ctx, ref.get("uri"))
            params["ref"] = ref
        else:
            raise MethodNotFound(f"method {method!r} is not supported by the hub")
        return server, Request(request.id, method, params), listed

    def outbound(self, server: ServerSettings, message: Message) -> Message:
        """Rewrite what an upstream sends so the client sees hub names and URIs."""
        if isinstance(message, Notification):
            if self._catalog.invalidate(server.name, message.method) or server.verbatim:
                return message
            if message.method == "notifications/resources/updated" and "uri" in message.params:
                params = {**message.params, "uri": naming.exposed_uri(server.name, str(message.params["uri"]))}
                return Notification(message.method, params)
            return message
        if isinstance(message, Response) and message.result and "contents" in message.result and not server.verbatim:
            contents = [
                {**c, "uri": naming.exposed_uri(server.name, str(c.get("uri", "")))} if "uri" in c else c
                for c in cast(list[dict[str, Any]], message.result.get("contents") or [])
            ]
            return Response(message.id, {**message.result, "contents": contents})
        return message

    async def broadcast(self, ctx: SessionContext, message: Notification | Request) -> None:
        """Send to every visible upstream (logging level, roots changed); failures are logged only."""
        deliveries = (self._upstreams.deliver(ctx, server, message) for server in self.visible(ctx))
        await asyncio.wait_for(asyncio.gather(*deliveries, return_exceptions=True), self._deadline)

    def stream(self, ctx: SessionContext, server: ServerSettings, request: Request) -> AsyncGenerator[Message]:
        return self._upstreams.forward(ctx, server, request)


def capability_shape(capabilities: JsonObject) -> str:
    """A short fingerprint of client capabilities: equal for equal declarations, whatever the key order."""
    if not capabilities:
        return "-"
    canonical = json.dumps(capabilities, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _connect_tool() -> dict[str, Any]:
    """Stands in for the tools of a server the user has not connected yet: calling it (or any of the
    server's tools) answers with the link to connect."""
    return {
        "name": CONNECT_TOOL,
        "description": "Connect your account for this server to use its tools. Call this to get the link.",
        "inputSchema": {"type": "object", "properties": {}},
    }
