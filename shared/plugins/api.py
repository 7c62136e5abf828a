"""What a plugin is, as its author sees it.

A plugin is an object with any of these async methods (the hook points), each taking a `Hook`:

    before_tool_call(hook)      hook.payload = the tools/call params as the upstream gets them
    after_tool_call(hook)       hook.payload = the result (content, structuredContent, isError)
    before_prompt_get(hook)     hook.payload = the prompts/get params
    after_prompt_get(hook)      hook.payload = the result (messages)
    before_resource_read(hook)  hook.payload = the resources/read params (the upstream's URI)
    after_resource_read(hook)   hook.payload = the result (contents)
    after_tools_list(hook)      hook.payload = {"tools": [...]}: one server's tools, as it lists them

A hook passes by returning None, modifies by returning the new payload (a JSON object; changing
`hook.payload` in place and returning it works too), and refuses by raising `Refuse(message)`:
the client shows the message. Names are the upstream's own (not the `<server>__` names of `/mcp`).
Both protocol eras run the same hooks.

A factory builds the plugin from its `PluginConfig` (`MCPHUB_PLUGIN_<NAME>__CONFIG__*`) and raises
`ConfigProblem(key, why)` for a bad value, which stops the hub at start naming the variable.

Everything a hook receives and returns is plain JSON (`Hook.to_wire`), so a plugin that is an
MCP server the hub calls can stand behind the same methods.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.principal import Principal

JsonObject = dict[str, Any]

HOOK_POINTS = (
    "before_tool_call",
    "after_tool_call",
    "before_prompt_get",
    "after_prompt_get",
    "before_resource_read",
    "after_resource_read",
    "after_tools_list",
)
# The upstream methods with hooks around them: (before, after).
AROUND: dict[str, tuple[str, str]] = {
    "tools/call": ("before_tool_call", "after_tool_call"),
    "prompts/get": ("before_prompt_get", "after_prompt_get"),
    "resources/read": ("before_resource_read", "after_resource_read"),
}


class Refuse(Exception):
    """Raised by a hook to refuse: `message` is what the client (and its user) is shown."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigProblem(ValueError):
    """A factory's complaint about one of its settings: `key` as in `PluginConfig.settings`."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


@dataclass(frozen=True, slots=True)
class Caller:
    """Who the request is for: `user` is "<tenant>:<object id>"."""

    user: str
    tenant: str
    name: str = ""
    roles: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()

    @classmethod
    def of(cls, principal: Principal) -> Caller:
        return cls(principal.key, principal.tenant_id, principal.name, principal.roles, principal.groups)

    def to_wire(self) -> JsonObject:
        return {
            "user": self.user,
            "tenant": self.tenant,
            "name": self.name,
            "roles": sorted(self.roles),
            "groups": sorted(self.groups),
        }


@dataclass(frozen=True, slots=True)
class Hook:
    caller: Caller
    server: str  # the hub's name for the upstream (MCPHUB_SERVER_<NAME>)
    method: str  # tools/call, prompts/get, resources/read, tools/list
    payload: JsonObject
    request: JsonObject | None = None  # after hooks: the params that produced this result
    tool: Mapping[str, Any] | None = None  # tools/call: the tool as the server lists it (None if unlisted)

    @property
    def name(self) -> str:
        """The tool or prompt name, or the resource URI, this hook is about ("" for lists)."""
        params = self.request if self.request is not None else self.payload
        value = params.get("uri" if self.method == "resources/read" else "name")
        return value if isinstance(value, str) and self.method != "tools/list" else ""

    def to_wire(self) -> JsonObject:
        wire: JsonObject = {
            "caller": self.caller.to_wire(),
            "server": self.server,
            "method": self.method,
            "payload": self.payload,
        }
        if self.request is not None:
            wire["request"] = self.request
        if self.tool is not None:
            wire["tool"] = dict(self.tool)
        return wire


@dataclass(frozen=True, slots=True)
class PluginConfig:
    """What a factory gets: the plugin's name, the servers it runs for, and its own settings.

    `settings` holds `MCPHUB_PLUGIN_<NAME>__CONFIG__<KEY>` as `key` (lower case; deeper levels
    joined with `__`, e.g. `rule1__pattern`)."""

    name: str
    servers: frozenset[str] = frozenset()  # empty: every server
    settings: Mapping[str, str] = field(default_factory=dict[str, str])

    def groups(self) -> dict[str, dict[str, str]]:
        """Settings of the form `<group>__<field>`, by group: {"rule1": {"pattern": ...}}."""
        found: dict[str, dict[str, str]] = {}
        for key, value in self.settings.items():
            group, sep, name = key.partition("__")
            if sep:
                found.setdefault(group, {})[name] = value
        return found
