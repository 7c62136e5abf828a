"""`MODULE=schema`: refuse a tools/call whose arguments do not fit the tool's `inputSchema`.

The tool is the one the caller's own list shows (the hub's cached listing of that server), judged
with jsonschema under the draft the schema declares (2020-12 when it names none), its patterns on
RE2 (`shared.mcp.schema`). The refusal is a tool error listing each problem with its path, so the
model can repair the call (MCP: input validation errors are tool execution errors). A tool the
server did not list, or whose schema is invalid or refers outside itself, is passed on: the upstream
stays the final word. No settings.
"""

from __future__ import annotations

from typing import Any

from jsonschema.protocols import Validator

from shared.mcp.schema import judge, validator_for
from shared.plugins.api import ConfigProblem, Hook, JsonObject, PluginConfig, Refuse

_CACHE = 2048  # validators kept, one per listed schema (rebuilt when a list refresh replaces the schema)
_SHOWN = 10


class SchemaPlugin:
    def __init__(self) -> None:
        self._validators: dict[int, tuple[object, Validator | None]] = {}

    async def before_tool_call(self, hook: Hook) -> JsonObject | None:
        if hook.tool is None:
            return None
        schema = hook.tool.get("inputSchema")
        checker = self._validator(schema)
        if checker is None:
            return None
        arguments: Any = hook.payload.get("arguments", {})
        found = judge(checker, {} if arguments is None else arguments)
        if found:
            more = f" (and {len(found) - _SHOWN} more)" if len(found) > _SHOWN else ""
            raise Refuse(
                f"the arguments do not fit the input schema of {hook.name!r}: " + "; ".join(found[:_SHOWN]) + more
            )
        return None

    def _validator(self, schema: object) -> Validator | None:
        """One validator per schema object: the listing keeps the same object until it is refreshed."""
        cached = self._validators.get(id(schema))
        if cached is not None and cached[0] is schema:
            return cached[1]
        if len(self._validators) >= _CACHE:
            self._validators.clear()
        checker = validator_for(schema)
        self._validators[id(schema)] = (schema, checker)  # holding `schema` keeps its id from being reused
        return checker


def factory(config: PluginConfig) -> SchemaPlugin:
    for key in config.settings:
        raise ConfigProblem(key, "the schema plugin takes no settings")
    return SchemaPlugin()
