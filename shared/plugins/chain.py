"""Running the plugins: priority order, one timeout per hook call, each plugin in its mode.

    enforce     a refusal refuses; a hook that times out, raises or answers nonsense refuses too
    permissive  refusals and failures are reported and the request goes on as if the hook passed
    disabled    not loaded (its settings are still checked at start)

A plugin never takes the hub down: whatever a hook raises is caught here and reported (the
exception's type only: its message may quote the payload). The timeout holds at the hook's awaits;
a hook that computes without awaiting cannot be interrupted, so CPU-bound work must bound itself.
Every refusal and failure is reported (`PluginEvent`: the audit trail and `/ops/usage` count them
per plugin); a modification is counted, not audited.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from shared.call_record import PluginEvent
from shared.errors import PluginRefused, PluginWithheld
from shared.mcp.jsonrpc import Message, Request, Response
from shared.plugins.api import AROUND, HOOK_POINTS, Caller, Hook, JsonObject, Refuse
from shared.plugins.loader import build
from shared.plugins.settings import PluginSettings

log = logging.getLogger(__name__)

HookFunction = Callable[[Hook], Awaitable[JsonObject | None]]


@dataclass(frozen=True, slots=True)
class LoadedPlugin:
    name: str
    mode: str
    timeout: float
    servers: frozenset[str]  # empty: every server
    hooks: Mapping[str, HookFunction]

    @classmethod
    def of(cls, settings: PluginSettings, plugin: object) -> LoadedPlugin:
        return cls.of_object(settings.name, settings.mode, settings.timeout, frozenset(settings.servers), plugin)

    @classmethod
    def of_object(cls, name: str, mode: str, timeout: float, servers: frozenset[str], plugin: object) -> LoadedPlugin:
        """The hooks `plugin` has (every method named after a hook point)."""
        hooks = {p: cast(HookFunction, getattr(plugin, p)) for p in HOOK_POINTS if callable(getattr(plugin, p, None))}
        return cls(name, mode, timeout, servers, hooks)

    def runs_for(self, server: str) -> bool:
        return not self.servers or server in self.servers


class PluginChain:
    def __init__(
        self, plugins: list[LoadedPlugin], *, report: Callable[[PluginEvent], None], clock: Callable[[], float]
    ) -> None:
        self._at = {point: [p for p in plugins if point in p.hooks] for point in HOOK_POINTS}
        self._report = report
        self._clock = clock
        self._for: dict[tuple[str, str], tuple[list[LoadedPlugin], list[LoadedPlugin]]] = {}
        self.names = [p.name for p in plugins]

    @classmethod
    def load(
        cls, settings: list[PluginSettings], *, report: Callable[[PluginEvent], None], clock: Callable[[], float]
    ) -> PluginChain:
        """Build every plugin, so a disabled one's settings are checked too; run those not disabled
        (settings come sorted by priority)."""
        built = [(s, build(s)) for s in settings]
        loaded = [LoadedPlugin.of(s, plugin) for s, plugin in built if s.mode != "disabled"]
        return cls(loaded, report=report, clock=clock)

    def around(self, method: str, server: str) -> tuple[list[LoadedPlugin], list[LoadedPlugin]]:
        """The plugins with a before and an after hook for `method` on `server` (worked out once)."""
        found = self._for.get((method, server))
        if found is None:
            before, after = AROUND.get(method, ("", ""))
            found = self._for[(method, server)] = (self._running(before, server), self._running(after, server))
        return found

    def _running(self, point: str, server: str) -> list[LoadedPlugin]:
        return [p for p in self._at.get(point, []) if p.runs_for(server)]

    def lists(self, server: str) -> bool:
        return any(p.runs_for(server) for p in self._at["after_tools_list"])

    # ---- the hook points ---------------------------------------------------------------------

    async def before(
        self, plugins: list[LoadedPlugin], caller: Caller, server: str, request: Request, tool: Mapping[str, Any] | None
    ) -> Request:
        """The request after every before-hook; PluginRefused / PluginWithheld when one refuses."""
        point = AROUND[request.method][0]
        params = request.params
        for plugin in plugins:
            params = await self._run(plugin, point, Hook(caller, server, request.method, params, None, tool))
        return request if params is request.params else Request(request.id, request.method, params)

    def after(
        self, plugins: list[LoadedPlugin], caller: Caller, server: str, sent: Request, upstream: AsyncGenerator[Message]
    ) -> AsyncGenerator[Message]:
        """`upstream`, with the answer to `sent` passed through every after-hook (streamed or not)."""
        return self._after(plugins, caller, server, sent, upstream)

    async def _after(
        self, plugins: list[LoadedPlugin], caller: Caller, server: str, sent: Request, upstream: AsyncGenerator[Message]
    ) -> AsyncGenerator[Message]:
        point = AROUND[sent.method][1]
        try:
            async for message in upstream:
                if isinstance(message, Response) and message.id == sent.id and _complete(message.result):
                    result = cast(JsonObject, message.result)
                    for plugin in plugins:
                        result = await self._run(plugin, point, Hook(caller, server, sent.method, result, sent.params))
                    if result is not message.result:
                        message = Response(message.id, result)
                yield message
        finally:
            await upstream.aclose()

    async def listed(self, caller: Caller, server: str, tools: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """One server's tools after every after_tools_list hook; None when an enforcing one withheld them.

        Each hook gets its own copy: the listing is cached and shared by every caller."""
        for plugin in self._at["after_tools_list"]:
            if not plugin.runs_for(server):
                continue
            payload: JsonObject = {"tools": json.loads(json.dumps(tools))}
            try:
                payload = await self._run(plugin, "after_tools_list", Hook(caller, server, "tools/list", payload))
            except (PluginRefused, PluginWithheld):
                return None
            found = payload.get("tools")
            if not isinstance(found, list) or not all(isinstance(t, dict) for t in cast(list[object], found)):
                self._failed(plugin, "after_tools_list", caller, server, "", "returned no 'tools' list of objects")
                if plugin.mode == "enforce":
                    return None
                continue
            tools = cast(list[dict[str, Any]], found)
        return tools

    # ---- one hook call -----------------------------------------------------------------------

    async def _run(self, plugin: LoadedPlugin, point: str, hook: Hook) -> JsonObject:
        """The payload after `plugin`'s hook: changed, or as it was when the hook passed (or failed
        permissively). Raises PluginRefused / PluginWithheld when an enforcing plugin refuses or fails."""
        before = point.startswith("before_")
        deadline = asyncio.timeout(plugin.timeout)
        try:
            async with deadline:
                changed = await plugin.hooks[point](hook)
        except Refuse as refusal:
            enforced = plugin.mode == "enforce"
            self._event(plugin, point, hook, "refused" if enforced else "would_refuse", refusal.message)
            if not enforced:
                return hook.payload
            if before:
                raise PluginRefused(refusal.message, plugin=plugin.name) from None
            raise PluginWithheld(refusal.message, plugin=plugin.name) from None
        except TimeoutError:
            if not deadline.expired():
                return self._fail(plugin, point, hook, "raised TimeoutError")
            variable = f"MCPHUB_PLUGIN_{plugin.name.upper()}__TIMEOUT"
            return self._fail(
                plugin, point, hook, f"did not answer within {plugin.timeout:g} s ({variable})", "timeout"
            )
        except Exception as exc:  # a plugin's bug must never take the request, or the hub, down
            return self._fail(plugin, point, hook, f"raised {type(exc).__name__}")
        if changed is None:
            return hook.payload
        if not isinstance(changed, dict):  # pyright: ignore[reportUnnecessaryIsInstance] - plugins are not type-checked
            return self._fail(plugin, point, hook, f"returned {type(changed).__name__}, not a JSON object")
        if changed is not hook.payload or point != "after_tools_list":
            self._event(plugin, point, hook, "modified", "")
        return changed

    def _fail(self, plugin: LoadedPlugin, point: str, hook: Hook, why: str, outcome: str = "failed") -> JsonObject:
        self._failed(plugin, point, hook.caller, hook.server, hook.name, why, outcome)
        if plugin.mode != "enforce":
            return hook.payload
        message = f"the hub's plugin {plugin.name!r} {why}, so this request was refused; try again later"
        raise PluginWithheld(message, plugin=plugin.name)

    def _failed(
        self,
        plugin: LoadedPlugin,
        point: str,
        caller: Caller,
        server: str,
        name: str,
        why: str,
        outcome: str = "failed",
    ) -> None:
        log.warning("plugin %r (%s, %s) %s on server %r", plugin.name, point, plugin.mode, why, server)
        self._report(
            PluginEvent(self._clock(), plugin.name, point, outcome, caller.user, caller.tenant, server, name, why)
        )

    def _event(self, plugin: LoadedPlugin, point: str, hook: Hook, outcome: str, message: str) -> None:
        self._report(
            PluginEvent(
                self._clock(),
                plugin.name,
                point,
                outcome,
                hook.caller.user,
                hook.caller.tenant,
                hook.server,
                hook.name,
                message,
            )
        )


def _complete(result: JsonObject | None) -> bool:
    """A final result (not an error, not a 2026-07-28 `input_required` asking the client first)."""
    return result is not None and result.get("resultType", "complete") == "complete"


NO_PLUGINS = PluginChain([], report=lambda event: None, clock=lambda: 0.0)
