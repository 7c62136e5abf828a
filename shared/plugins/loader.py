"""From a plugin's settings to the object whose hooks the chain calls.

`MODULE` is, in this order: a built-in's name (`redact`, `deny`, `schema`), `package.module:factory`
from the deployed package, or the name of an entry point in the group `mcphub.plugins` of an
installed distribution. The factory is called with the plugin's `PluginConfig`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, cast

from shared.errors import ConfigError
from shared.plugins.api import HOOK_POINTS, ConfigProblem, PluginConfig
from shared.plugins.settings import PluginSettings

ENTRY_POINT_GROUP = "mcphub.plugins"
BUILTINS = {
    "redact": "shared.plugins.builtin.redact:factory",
    "deny": "shared.plugins.builtin.deny:factory",
    "schema": "shared.plugins.builtin.schema:factory",
}

Factory = Callable[[PluginConfig], object]


def factory_of(settings: PluginSettings) -> Factory:
    """The factory `MODULE` names; ConfigError naming the variable when it cannot be found."""
    target = BUILTINS.get(settings.module, settings.module)
    variable = settings.variable("module")
    if ":" not in target:
        found = [e for e in entry_points(group=ENTRY_POINT_GROUP) if e.name == target]
        if not found:
            raise ConfigError(
                f"{variable}: {target!r} is no built-in ({', '.join(BUILTINS)}), no 'module:factory' and no "
                f"entry point of group {ENTRY_POINT_GROUP!r}"
            )
        loaded = found[0].load()
    else:
        module_name, _, attribute = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigError(f"{variable}: cannot import {module_name!r}: {exc}") from None
        loaded = getattr(module, attribute, None)
    if not callable(loaded):
        raise ConfigError(f"{variable}: {target!r} is not a callable factory")
    return cast(Factory, loaded)


def build(settings: PluginSettings) -> object:
    """The plugin object, with at least one hook; ConfigError naming the variable otherwise."""
    config = PluginConfig(settings.name, frozenset(settings.servers), dict(settings.config))
    factory = factory_of(settings)
    try:
        plugin: Any = factory(config)
    except ConfigProblem as problem:
        raise ConfigError(f"{settings.variable('config__' + problem.key)}: {problem.message}") from None
    except Exception as exc:  # the factory's own bug: named, not a crash of the host's indexing
        raise ConfigError(f"{settings.variable('module')}: the factory raised {type(exc).__name__}") from None
    if not any(callable(getattr(plugin, point, None)) for point in HOOK_POINTS):
        raise ConfigError(f"{settings.variable('module')}: the plugin has none of the hooks {', '.join(HOOK_POINTS)}")
    return cast(object, plugin)
