"""Plugins as an operator declares them: `MCPHUB_PLUGIN_<NAME>__<FIELD>`.

    MCPHUB_PLUGIN_PII__MODULE=redact                  a built-in, `package.module:factory`, or an
                                                      entry point of group `mcphub.plugins`
    MCPHUB_PLUGIN_PII__PRIORITY=10                    lower runs first (default 100; ties by name)
    MCPHUB_PLUGIN_PII__MODE=enforce                   enforce | permissive | disabled
    MCPHUB_PLUGIN_PII__TIMEOUT=2                      seconds per hook call (default 5)
    MCPHUB_PLUGIN_PII__SERVERS=github,jira            only these servers (default: all)
    MCPHUB_PLUGIN_PII__CONFIG__PATTERNS=email,jwt     the plugin's own settings

Every problem stops the hub at start with the variable that caused it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.errors import ConfigError
from shared.settings import CsvList, collect, validated

PLUGIN_PREFIX = "MCPHUB_PLUGIN_"
Mode = Literal["enforce", "permissive", "disabled"]


class PluginSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    module: str = Field(min_length=1)
    priority: int = Field(default=100, ge=-1_000_000, le=1_000_000)
    mode: Mode = "enforce"
    timeout: float = Field(default=5.0, gt=0, le=120)
    servers: CsvList = Field(default_factory=list[str])
    config: dict[str, str] = Field(default_factory=dict[str, str])

    @field_validator("config", mode="before")
    @classmethod
    def _lower_keys(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {str(k).lower(): v for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType] - JSON of unknown shape: isinstance narrows the container, not its items
        return value

    def variable(self, field: str, spelled: str | None = None) -> str:
        """The variable that sets `field` (`config__<key>` for the plugin's own settings)."""
        return f"{PLUGIN_PREFIX}{spelled or self.name.upper()}__{field.upper()}"


def load_plugin_settings(environ: Mapping[str, str], servers: Mapping[str, object]) -> list[PluginSettings]:
    """Every declared plugin (disabled ones too: they are checked like the others), by priority."""
    raw, spelled, origin = collect(environ, PLUGIN_PREFIX, example="PII__MODULE", kind="plugin")
    plugins: list[PluginSettings] = []
    for name, fields in sorted(raw.items()):
        plugin = validated(
            PluginSettings, fields, PLUGIN_PREFIX, "plugin", required="module", spelled=spelled[name], origin=origin
        )
        unknown = [s for s in plugin.servers if s not in servers]
        if unknown:
            variable = origin[(name, "servers")]
            raise ConfigError(f"{variable}: no server named {', '.join(map(repr, unknown))} is configured")
        plugins.append(plugin.model_copy(update={"name": name}))
    return sorted(plugins, key=lambda p: (p.priority, p.name))
