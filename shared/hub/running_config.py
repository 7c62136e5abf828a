"""The configuration the hub runs with, as the operator page shows it: every secret masked.

Secret settings (SecretStr: keys, client secrets, connection strings, static upstream headers)
print as "••••••"; URLs lose credentials and query strings, which often carry API keys. A plugin's
own settings are plain strings: those whose names look like secrets are masked too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, SecretStr

from shared.audit.redact import secret_name
from shared.identity.scope import HUB_WIDE, Scope
from shared.limits.rules import LimitRule
from shared.plugins.settings import PluginSettings
from shared.settings import ServerSettings
from shared.tenants import Tenants, TenantSettings

MASK = "••••••"


def masked(model: BaseModel) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in type(model).model_fields:
        out[name] = _mask(getattr(model, name))
    return out


def _mask(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return MASK if value.get_secret_value() else ""
    if isinstance(value, BaseModel):
        return masked(value)
    if isinstance(value, Mapping):
        return {str(k): _mask(v) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType] - JSON of unknown shape: isinstance narrows the container, not its items
    if isinstance(value, list | tuple):
        return [_mask(v) for v in value]  # pyright: ignore[reportUnknownVariableType] - JSON of unknown shape: isinstance narrows the container, not its items
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return safe_url(str(value)) if "://" in str(value) else str(value)


def safe_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "…" if parts.query else "", ""))


def running_config(
    sections: Mapping[str, BaseModel],
    servers: Mapping[str, ServerSettings],
    limits: Sequence[LimitRule],
    plugins: Sequence[PluginSettings] = (),
    tenants: Tenants | None = None,
    scope: Scope = HUB_WIDE,
) -> dict[str, Any]:
    """The configuration, secrets masked; for an operator of one tenant (`scope`), only what is
    about that tenant or everyone: the servers open to it, the limits that can apply to it, its
    alias, and itself as the tenants the hub admits."""
    aliases: Mapping[str, TenantSettings] = tenants.by_alias if tenants else {}
    body: dict[str, Any] = {
        **{name: masked(model) for name, model in sections.items()},
        "servers": {name: masked(server) for name, server in sorted(servers.items()) if scope.sees_server(server)},
        "limits": [masked(rule) for rule in limits if rule.tenant is None or scope.sees_tenant(rule.tenant)],
        "plugins": [_plugin(plugin) for plugin in plugins],  # in the order they run
        "tenants": {alias: masked(tenant) for alias, tenant in sorted(aliases.items()) if scope.sees_tenant(tenant.id)},
    }
    if scope.tenant is not None and "auth" in sections:
        body["auth"]["tenants"] = [scope.tenant]
    return body


def _plugin(plugin: PluginSettings) -> dict[str, Any]:
    shown = masked(plugin)
    shown["config"] = {k: MASK if secret_name(k) else v for k, v in sorted(plugin.config.items())}
    return shown
