"""Stdio servers: MCP servers that speak only stdio, each run behind the bridge and reached as an HTTP upstream.

The bridge is npm `mcp-proxy` (pinned in package.json and bicep/bridge/Dockerfile), started by
bicep/bridge/entrypoint.sh: one stdio process per bridge, shared by every request, served over
Streamable HTTP in its stateless mode (no bridge-side session, so any hub instance in any region,
and any replica, serves any request), behind the bridge's own key (`X-API-Key`). The entrypoint
ends the bridge when its stdio process exits, so the platform starts a fresh one.

Declared locally as `MCPHUB_STDIO_<NAME>__<FIELD>` (infra/stdio.py starts them), on Azure as entries
of the Bicep parameter `stdioServers` (bicep/modules/stdio.bicep; `make preflight` checks them here):

    MCPHUB_STDIO_MEMORY__PACKAGE=@modelcontextprotocol/server-memory@2026.8.31
    MCPHUB_STDIO_TIME__PACKAGE=mcp-server-time==2026.10.19
    MCPHUB_STDIO_TIME__RUNNER=uvx
    MCPHUB_STDIO_FILES__ARGS=["/srv/files"]
    MCPHUB_STDIO_GITHUB__ENV__GITHUB_TOKEN=...      (Azure: "secrets": {"GITHUB_TOKEN": "<Key Vault secret>"})

The hub sees each as `MCPHUB_SERVER_<NAME>__URL` (plus the key header and `STDIO=true`, which
refuses per-user credentials: one process holds one credential).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from shared.errors import ConfigError
from shared.settings import SERVER_PREFIX, collect, validated

STDIO_PREFIX = "MCPHUB_STDIO_"
# Container Apps' consumption profile takes these CPU / memory pairs only.
_SIZES = {0.25: "0.5Gi", 0.5: "1Gi", 0.75: "1.5Gi", 1.0: "2Gi", 1.25: "2.5Gi", 1.5: "3Gi", 1.75: "3.5Gi", 2.0: "4Gi"}
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _json_list(value: Any) -> Any:
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            raise ValueError('must be a JSON array of strings, e.g. ["/srv/files", "--read-only"]') from None
        return parsed
    return value


class StdioServer(BaseModel):
    """One stdio server, as an operator declares it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    package: str | None = Field(default=None, min_length=1, description="npm or PyPI package, version pinned")
    runner: Literal["npx", "uvx"] = Field(default="npx", description="npx for npm packages, uvx for PyPI ones")
    image: str | None = Field(default=None, min_length=1, description="a container image built FROM the bridge's")
    command: str | None = Field(default=None, min_length=1, description="what starts the server inside IMAGE")
    args: Annotated[list[str], BeforeValidator(_json_list)] = Field(default_factory=list[str])
    env: dict[str, SecretStr] = Field(default_factory=dict[str, SecretStr])
    secrets: dict[str, str] = Field(
        default_factory=dict[str, str], description="Azure: environment variable -> Key Vault secret name"
    )
    stateless: bool = Field(default=False, description="the server keeps no state between calls")
    replicas: int = Field(default=1, ge=1, le=30)
    scale_to_zero: bool = False
    cpu: float = 0.5
    memory: str = Field(default="1Gi", validate_default=True)

    @field_validator("env", "secrets")
    @classmethod
    def _variable_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for variable in value:
            if not _ENV_NAME.match(variable):
                raise ValueError(f"{variable!r} is not an environment variable name")
        return value

    @field_validator("secrets")
    @classmethod
    def _once(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        if both := sorted(set(value) & set(info.data.get("env", {}))):
            raise ValueError(f"{both} set both in ENV and in SECRETS; give each variable once")
        return value

    @field_validator("replicas", "scale_to_zero")
    @classmethod
    def _stateless_only(cls, value: Any, info: ValidationInfo) -> Any:
        more = value is True if info.field_name == "scale_to_zero" else value > 1
        if more and not info.data.get("stateless", False):
            raise ValueError(
                "more than one replica, or scaling to zero, gives each replica (each start) a process of its own "
                "with its own state: set STATELESS=true only if the server keeps none (memory and filesystem "
                "servers keep state)"
            )
        return value

    @field_validator("memory")
    @classmethod
    def _size(cls, value: str, info: ValidationInfo) -> str:
        cpu = info.data.get("cpu")
        if isinstance(cpu, float) and _SIZES.get(cpu) != value:
            pairs = ", ".join(f"{c:g}/{m}" for c, m in _SIZES.items())
            raise ValueError(f"CPU/MEMORY {cpu:g}/{value} is not a Container Apps size; take one of {pairs}")
        return value

    @model_validator(mode="after")
    def _source(self) -> StdioServer:
        if self.package is None and self.image is None:
            raise ValueError(
                "a stdio server needs PACKAGE (an npm or PyPI package, run by RUNNER=npx|uvx in the bridge image) "
                "or IMAGE (a container image built FROM the bridge image); neither is set"
            )
        if self.package is not None and self.image is not None:
            raise ValueError("give PACKAGE or IMAGE, not both")
        if (
            self.package is not None
            and self.runner == "npx"
            and not re.match(r"^(@[^/\s]+/)?[^@\s]+@\S+$", self.package)
        ):
            raise ValueError(f"{self.package!r}: pin the npm version, e.g. @scope/name@1.2.3")
        if self.package is not None and self.runner == "uvx" and not re.match(r"^[A-Za-z0-9._-]+==\S+$", self.package):
            raise ValueError(f"{self.package!r}: pin the PyPI version, e.g. mcp-server-time==2026.10.19")
        return self

    def server_argv(self) -> list[str]:
        """What the bridge's entrypoint starts (inside an IMAGE without COMMAND: the image's own CMD)."""
        if self.package is not None:
            runner = ["npx", "-y", self.package] if self.runner == "npx" else ["uvx", self.package]
            return [*runner, *self.args]
        return [self.command, *self.args] if self.command else list(self.args)


def load_stdio_servers(environ: Mapping[str, str]) -> dict[str, StdioServer]:
    """The `MCPHUB_STDIO_<NAME>__<FIELD>` declarations, with a ConfigError naming the variable for a bad
    one, and for a name that is also an HTTP server's (`MCPHUB_SERVER_<NAME>__URL`)."""
    raw, spelled, origin = collect(environ, STDIO_PREFIX, example="MEMORY__PACKAGE", kind="stdio server")
    http = {key[len(SERVER_PREFIX) :].partition("__")[0].lower(): key for key in environ if _is_server_url(key)}
    servers: dict[str, StdioServer] = {}
    for name, fields in sorted(raw.items()):
        if name in http:
            first = min(key for (n, _), key in origin.items() if n == name)
            raise ConfigError(
                f"{first}: stdio server {name!r} has the name of the HTTP server {http[name]}; "
                "rename one of them (every server's name is its route and its tool prefix)"
            )
        servers[name] = validated(
            StdioServer,
            fields,
            STDIO_PREFIX,
            "stdio server",
            required="name",
            spelled=spelled[name],
            origin=origin,
            whole="package",
        )
    return servers


def _is_server_url(key: str) -> bool:
    upper = key.upper()
    return upper.startswith(SERVER_PREFIX) and upper.endswith("__URL") and upper.count("__") == 1


def hub_settings(name: str, url: str, bridge_key: str) -> dict[str, str]:
    """The hub's view of a stdio server: an HTTP upstream at the bridge, with the bridge's key."""
    base = f"{SERVER_PREFIX}{name.upper()}__"
    return {f"{base}URL": url, f"{base}HEADERS__X_API_KEY": bridge_key, f"{base}STDIO": "true"}
