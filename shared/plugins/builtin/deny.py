"""`MODULE=deny`: refuse tool calls whose arguments match a regular expression, per server and tool.

One rule per group of settings, `MCPHUB_PLUGIN_<NAME>__CONFIG__<RULE>__<FIELD>`:

    SERVER    glob of hub server names the rule covers (default `*`)
    TOOL      glob of the upstream's tool names (default `*`)
    ARGUMENT  glob of top-level argument names whose values are searched (default: every argument)
    PATTERN   RE2 regular expression searched in every string inside those arguments; without
              one, the tool itself is denied: left out of `tools/list` and refused when called
    MESSAGE   what the client is shown (default: names the rule and the argument)

    MCPHUB_PLUGIN_DENY__MODULE=deny
    MCPHUB_PLUGIN_DENY__CONFIG__DROP__TOOL=run_sql
    MCPHUB_PLUGIN_DENY__CONFIG__DROP__PATTERN=(?i)\\bdrop\\s+table\\b
    MCPHUB_PLUGIN_DENY__CONFIG__NODELETE__SERVER=github
    MCPHUB_PLUGIN_DENY__CONFIG__NODELETE__TOOL=delete_*

Patterns run on RE2 (`shared.linear_regex`): time linear in the argument's length, whatever the
pattern, so neither a rule nor a hostile argument can stall the worker. RE2 has no lookaround or
backreferences; a pattern using them stops the hub at start, naming its variable.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

from shared.linear_regex import LinearPatternError, compile_linear
from shared.plugins.api import ConfigProblem, Hook, JsonObject, PluginConfig, Refuse

_FIELDS = ("server", "tool", "argument", "pattern", "message")


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    server: str
    tool: str
    argument: str | None
    pattern: Any  # a compiled RE2 pattern, or None: the tool itself is denied
    message: str | None

    def covers(self, server: str, tool: str) -> bool:
        return fnmatch.fnmatchcase(server, self.server) and fnmatch.fnmatchcase(tool, self.tool)


class DenyList:
    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules

    async def before_tool_call(self, hook: Hook) -> JsonObject | None:
        tool = hook.name
        arguments = hook.payload.get("arguments")
        for rule in self.rules:
            if not rule.covers(hook.server, tool):
                continue
            if rule.pattern is None:
                raise Refuse(rule.message or f"the hub's policy does not allow {tool!r} (rule {rule.name!r})")
            for path, text in _strings(arguments, rule.argument):
                if rule.pattern.search(text) is not None:
                    said = f"the hub's policy refuses {path} of {tool!r}: it matches rule {rule.name!r}"
                    raise Refuse(rule.message or said)
        return None

    async def after_tools_list(self, hook: Hook) -> JsonObject | None:
        denied = [r for r in self.rules if r.pattern is None]
        if not denied:
            return None
        tools = cast(list[dict[str, Any]], hook.payload["tools"])
        kept = [t for t in tools if not any(r.covers(hook.server, str(t.get("name", ""))) for r in denied)]
        return None if len(kept) == len(tools) else {"tools": kept}


def _strings(arguments: object, argument: str | None) -> Iterator[tuple[str, str]]:
    """(path, text) of every string in the arguments (under the top-level names `argument` matches)."""
    if not isinstance(arguments, dict):
        return
    for name, value in cast(dict[str, Any], arguments).items():
        if argument is None or fnmatch.fnmatchcase(name, argument):
            yield from _walk(value, f"arguments.{name}")


def _walk(value: object, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in cast(dict[str, Any], value).items():
            yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(cast(list[Any], value)):
            yield from _walk(item, f"{path}[{index}]")


def factory(config: PluginConfig) -> DenyList:
    groups = config.groups()
    for key in config.settings:
        if "__" not in key:
            raise ConfigProblem(key, "deny rules are set as CONFIG__<RULE>__<FIELD>, e.g. CONFIG__DROP__PATTERN")
    rules: list[Rule] = []
    for name, fields in sorted(groups.items()):
        for field in fields:
            if field not in _FIELDS:
                raise ConfigProblem(
                    f"{name}__{field}", f"unknown rule field; use {', '.join(f.upper() for f in _FIELDS)}"
                )
        pattern = None
        if "pattern" in fields:
            try:
                pattern = compile_linear(fields["pattern"])
            except LinearPatternError as error:
                raise ConfigProblem(f"{name}__pattern", f"not a pattern RE2 can run ({error})") from None
        if pattern is None and "tool" not in fields:
            raise ConfigProblem(f"{name}__tool", "a rule without PATTERN denies whole tools: name them with TOOL")
        rules.append(
            Rule(
                name,
                fields.get("server", "*"),
                fields.get("tool", "*"),
                fields.get("argument"),
                pattern,
                fields.get("message"),
            )
        )
    if not rules:
        raise ConfigProblem("<rule>__pattern", "the deny list has no rules")
    return DenyList(rules)
