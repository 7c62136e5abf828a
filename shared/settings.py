"""Hub settings from environment variables (and, locally, `local.settings.json` Values).

Scalar settings use pydantic-settings with the `MCPHUB_` prefix. Upstream servers use one variable
per field: `MCPHUB_SERVER_<NAME>__<FIELD>`, nested with `__`, e.g.

    MCPHUB_SERVER_GITHUB__URL=https://example.com/mcp
    MCPHUB_SERVER_GITHUB__TIMEOUT=10
    MCPHUB_SERVER_GITHUB__HEADERS__X_API_KEY=...      (sent as header X-Api-Key)
    MCPHUB_SERVER_GITHUB__TOOLS_INCLUDE=search_*,get_issue

Every problem is reported at start-up with the variable that caused it; values are never echoed,
since many of them are secrets.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.errors import ConfigError
from shared.redirects import RedirectRefused, parse_redirect

SERVER_PREFIX = "MCPHUB_SERVER_"
# A server, stdio server, tenant alias or plugin name (the part of its variables before "__").
NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]|_(?!_))*$")
_HEADER_RE = re.compile(r"^[A-Za-z0-9-]+$")


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


CsvList = Annotated[list[str], NoDecode, BeforeValidator(_split_csv)]


class ServerSettings(BaseModel):
    """One upstream MCP server, as an operator declares it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    url: AnyHttpUrl
    timeout: float = Field(default=30.0, gt=0, le=3600)
    connect_timeout: float = Field(default=5.0, gt=0, le=120)
    headers: dict[str, SecretStr] = Field(default_factory=dict[str, SecretStr])
    prefix: str | None = None
    tools_include: CsvList = Field(default_factory=list[str])
    tools_exclude: CsvList = Field(default_factory=list[str])
    enabled: bool = True
    # On /mcp, this server's tool and prompt names and resource URIs as the upstream gives them: no
    # prefix, no mcphub:// URIs. At most one server may be verbatim (its names would collide otherwise).
    verbatim: bool = False
    # On /mcp/{server}: translate between protocol eras where client and upstream differ (today:
    # a handshake-era client to an upstream of 2026-07-28 only). Off, the route is a pass-through.
    bridge_eras: bool = False
    description: str = ""
    # Store (redacted, truncated) arguments and results of this server's calls in the audit trail.
    audit_capture: bool = False
    # Who may see the server (shared/identity/access.py): any listed app role or group; tenants limit further.
    roles: CsvList = Field(default_factory=list[str])
    groups: CsvList = Field(default_factory=list[str])
    tenants: CsvList = Field(default_factory=list[str])
    auth_context: str | None = Field(
        default=None, pattern=r"^c[0-9]{1,2}$", description="Conditional Access auth context (acrs) required"
    )
    # How the hub authenticates to the upstream (shared/identity/credentials.py). HEADERS are
    # sent in every mode; the modes add the caller's or the hub's own credential.
    auth: Literal["none", "user_token", "user_oauth", "obo", "managed_identity"] = "none"
    auth_header: str = Field(default="Authorization", pattern=r"^[A-Za-z0-9-]+$")
    scope: str | None = Field(default=None, description="token scope for obo / managed_identity")
    oauth_authorize_url: AnyHttpUrl | None = None
    oauth_token_url: AnyHttpUrl | None = None
    oauth_client_id: str | None = None
    oauth_client_secret: SecretStr | None = None
    oauth_scopes: str = ""
    # A stdio server behind the bridge (shared/stdio.py): one process, started with one credential in
    # its environment, serves every user, and the bridge passes no request headers on to it.
    stdio: bool = False

    @field_validator("headers", mode="before")
    @classmethod
    def _header_names(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        headers: dict[str, Any] = {}
        for key, item in value.items():  # pyright: ignore[reportUnknownVariableType] - JSON of unknown shape: isinstance narrows the container, not its items
            name = str(key).replace("_", "-")  # pyright: ignore[reportUnknownArgumentType] - JSON of unknown shape: isinstance narrows the container, not its items
            if not _HEADER_RE.match(name):
                raise ValueError(f"header name {name!r} is not a valid HTTP header name")
            headers["-".join(part.capitalize() for part in name.split("-"))] = item
        return headers

    @model_validator(mode="after")
    def _auth_complete(self) -> ServerSettings:
        if self.auth in ("obo", "managed_identity") and not self.scope:
            raise ValueError(f"auth={self.auth} needs SCOPE (e.g. api://<upstream app>/.default)")
        if self.auth == "user_oauth" and not (
            self.oauth_authorize_url and self.oauth_token_url and self.oauth_client_id
        ):
            raise ValueError("auth=user_oauth needs OAUTH_AUTHORIZE_URL, OAUTH_TOKEN_URL and OAUTH_CLIENT_ID")
        if self.stdio and self.auth != "none":
            raise ValueError(
                f"auth={self.auth} cannot reach a stdio server (STDIO=true): its one process reads one credential "
                "from its environment at start and serves every user, and the bridge passes no request headers to "
                "it. Give the server a shared credential in its environment and AUTH=none, or, for per-user "
                "credentials, run it as an HTTP server that takes each user's token"
            )
        return self

    @property
    def per_user(self) -> bool:
        """The upstream sees each user's own credential, so its answers may differ per user."""
        return self.auth in ("user_token", "user_oauth", "obo")

    @field_validator("prefix")
    @classmethod
    def _prefix_shape(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[A-Za-z0-9-]+(?:_[A-Za-z0-9-]+)*$", value):
            raise ValueError("prefix may use letters, digits, '-' and single '_' only")
        return value

    @property
    def namespace(self) -> str:
        """What tool and prompt names are prefixed with on the aggregated endpoint."""
        return self.prefix or self.name

    def exposes_tool(self, tool: str) -> bool:
        """Operator filter: include patterns (all when empty), minus exclude patterns (fnmatch globs)."""
        if self.tools_include and not any(fnmatch.fnmatchcase(tool, p) for p in self.tools_include):
            return False
        return not any(fnmatch.fnmatchcase(tool, p) for p in self.tools_exclude)


class HubSettings(BaseSettings):
    """Everything the hub reads at start-up apart from the server registry."""

    model_config = SettingsConfigDict(env_prefix="MCPHUB_", extra="ignore", frozen=True)

    storage_connection_string: SecretStr | None = Field(
        default=None, description="Table Storage connection; falls back to AzureWebJobsStorage"
    )
    sessions_table: str = Field(default="mcphubsessions", pattern=r"^[A-Za-z][A-Za-z0-9]{2,62}$")
    session_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    session_touch_seconds: int = Field(default=300, ge=1, description="how stale last-seen may get")
    session_cache_size: int = Field(default=10_000, ge=0)
    session_write_behind_seconds: float = Field(
        default=2.0,
        ge=0,
        le=30,
        description="answer initialize before the session's Table insert lands; other instances wait this long "
        "for a new session's row (0: insert before answering)",
    )
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    allowed_origins: CsvList = Field(default_factory=list[str])
    relay_key: SecretStr | None = Field(default=None, description="HMAC key for relayed request IDs")
    list_ttl_seconds: float = Field(default=60.0, ge=0)
    tool_search: Literal["off", "first", "only"] = Field(default="off", description="meta-tools on /mcp")
    hub_tools: bool = Field(default=True, description="offer operators the hub's own tools on /mcp")
    ask_timeout_seconds: float = Field(
        default=120.0, gt=0, le=600, description="how long the hub waits for a client to answer its sampling request"
    )
    fanout_deadline_seconds: float = Field(default=10.0, gt=0)
    breaker_failures: int = Field(default=3, ge=1)
    breaker_reset_seconds: float = Field(default=30.0, gt=0)
    instance_name: str = "local"
    region: str = Field(default="local", description="this deployment's region, as health samples and /health name it")
    front_door_id: str | None = Field(
        default=None, description="X-Azure-FDID of this hub's Front Door: only then is X-Azure-ClientIP believed"
    )
    health_table: str = Field(default="mcphubhealth", pattern=r"^[A-Za-z][A-Za-z0-9]{2,62}$")
    health_flush_seconds: float = Field(default=15.0, gt=0, description="how often samples are written")
    health_retention_days: float = Field(
        default=35.0, gt=0, description="how long health samples are kept (the risk model retrains from 28 days)"
    )
    health_failing_hold_seconds: float = Field(
        default=60.0,
        ge=0,
        description="how long /health stays 503 after this instance's own requests failed as in an outage "
        "(20 %, at least 10 errors in 5 s); 0 turns the check off",
    )
    grants_table: str = Field(default="mcphubgrants", pattern=r"^[A-Za-z][A-Za-z0-9]{2,62}$")
    vault_keys: SecretStr | None = Field(
        default=None, description="comma-separated base64 AES-256 keys, newest first (a Key Vault reference on Azure)"
    )
    vault_key_file: str | None = Field(
        default=None, description="local development: a file holding the keys, created with a random key if missing"
    )
    public_url: AnyHttpUrl | None = Field(
        default=None, description="the hub's origin as clients reach it, e.g. https://hub.example.com"
    )


ENTRA = "https://login.microsoftonline.com"


class AuthSettings(BaseSettings):
    """How callers prove who they are: `MCPHUB_AUTH__<FIELD>`.

    Entra ID v2 access tokens issued for the hub (audience = its client ID or App ID URI) by one
    of the allowed tenants. `{tenant}` in the issuer and JWKS templates is the token's `tid`, so
    a multi-tenant hub checks each tenant's own issuer. `MODE=off` serves everybody as one
    anonymous user, for local demos only, and says so loudly at start.
    """

    model_config = SettingsConfigDict(env_prefix="MCPHUB_AUTH__", extra="ignore", frozen=True)

    mode: Literal["entra", "off"] = "entra"
    tenants: CsvList = Field(default_factory=list[str])
    audiences: CsvList = Field(default_factory=list[str])
    scope: str = Field(default="MCP.Access", description="delegated scope (scp) every token must carry")
    issuer: str = f"{ENTRA}/{{tenant}}/v2.0"
    jwks_url: str = f"{ENTRA}/{{tenant}}/discovery/v2.0/keys"
    authorization_servers: CsvList = Field(
        default_factory=list[str], description="for Protected Resource Metadata; default: the first tenant's issuer"
    )
    clock_skew_seconds: int = Field(default=60, ge=0, le=600)
    jwks_refresh_seconds: float = Field(default=300.0, ge=1, description="least time between unknown-kid refetches")
    ca_file: str | None = Field(default=None, description="extra CA bundle for the authority (local mock only)")
    # The OAuth facade for IDEs that need Dynamic Client Registration (Cursor, Claude Code): on
    # when the hub's own Entra app credentials are set.
    client_id: str | None = None
    client_secret: SecretStr | None = None
    login_authority: str | None = Field(
        default=None, description="MSAL authority; default: the tenant, or 'organizations' for several"
    )
    oidc_authority: str | None = Field(default=None, description="a generic OIDC authority instead of Entra")
    access_token_seconds: int = Field(default=900, ge=60, le=24 * 3600)
    signing_key_days: int = Field(default=30, ge=1, le=365, description="the facade's signing key rotates this often")
    refresh_token_days: int = Field(default=14, ge=1, le=365)
    refresh_grace_seconds: float = Field(
        default=30.0, ge=0, le=300, description="a refresh token used again this soon returns the same new pair"
    )
    redirect_schemes: CsvList = Field(
        default_factory=lambda: ["cursor", "vscode", "vscode-insiders", "windsurf", "claude"]
    )
    web_redirects: CsvList = Field(
        default_factory=lambda: ["https://vscode.dev/redirect", "https://insiders.vscode.dev/redirect"]
    )
    hub_wide_role: str = Field(
        default="Hub.AllTenants",
        min_length=1,
        description="the app role that lets an operator or admin of a multi-tenant hub see every tenant",
    )
    hub_wide_tenants: CsvList = Field(
        default_factory=list[str],
        description="the tenants whose HUB_WIDE_ROLE counts (default: the first of TENANTS, the hub's home): "
        "every tenant that consents to a multi-tenant app assigns its app roles to its own users",
    )
    registrations_per_hour: int = Field(
        default=20, ge=1, le=100_000, description="client registrations one address may attempt per hour"
    )

    @property
    def facade(self) -> bool:
        return self.mode == "entra" and bool(self.client_id) and self.client_secret is not None

    @property
    def msal_authority(self) -> str | None:
        if self.oidc_authority:
            return None
        if self.login_authority:
            return self.login_authority
        return f"{ENTRA}/{self.tenants[0]}" if len(self.tenants) == 1 else f"{ENTRA}/organizations"

    @model_validator(mode="after")
    def _complete(self) -> AuthSettings:
        if self.mode == "entra":
            if not self.tenants:
                raise ValueError("MCPHUB_AUTH__TENANTS: list the Entra tenant ID(s) whose users may sign in")
            if not self.audiences:
                raise ValueError("MCPHUB_AUTH__AUDIENCES: the hub's client ID and/or App ID URI")
            stray = [t for t in self.hub_wide_tenants if t not in self.tenants]
            if stray:
                raise ValueError(f"MCPHUB_AUTH__HUB_WIDE_TENANTS: {stray} not in MCPHUB_AUTH__TENANTS")
            for name, template in (("ISSUER", self.issuer), ("JWKS_URL", self.jwks_url)):
                if not template.startswith("https://"):
                    raise ValueError(f"MCPHUB_AUTH__{name}: must be an https URL")
        for uri in self.web_redirects:
            try:
                parse_redirect(uri)
            except RedirectRefused as refused:
                raise ValueError(f"MCPHUB_AUTH__WEB_REDIRECTS: {uri!r}: {refused}") from None
        return self

    @property
    def multi_tenant(self) -> bool:
        """Users of several tenants sign in: operators are tenant-scoped and usage is counted per tenant."""
        return self.mode != "off" and len(self.tenants) > 1

    @property
    def hub_wide_from(self) -> list[str]:
        """The tenants whose users the hub-wide role applies to."""
        return list(self.hub_wide_tenants) or self.tenants[:1]

    def issuer_for(self, tenant: str) -> str:
        return self.issuer.replace("{tenant}", tenant)

    def jwks_url_for(self, tenant: str) -> str:
        return self.jwks_url.replace("{tenant}", tenant)

    @property
    def metadata_authorization_servers(self) -> list[str]:
        if self.authorization_servers:
            return list(self.authorization_servers)
        return [self.issuer_for(self.tenants[0])] if self.tenants else []


def load_auth(environ: Mapping[str, str] | None = None) -> AuthSettings:
    """AuthSettings, with a ConfigError naming the variable when they are incomplete."""
    try:
        if environ is None:
            return AuthSettings()
        prefix = "MCPHUB_AUTH__"
        values = {k[len(prefix) :].lower(): v for k, v in environ.items() if k.upper().startswith(prefix)}
        return AuthSettings.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = f"MCPHUB_AUTH__{str(first['loc'][0]).upper()}: " if first["loc"] else ""
        raise ConfigError(f"{where}{first['msg'].removeprefix('Value error, ')}") from None


def collect(
    environ: Mapping[str, str], prefix: str, *, example: str, kind: str
) -> tuple[dict[str, dict[str, Any]], dict[str, str], dict[tuple[str, str], str]]:
    """`<prefix><NAME>__<FIELD>[__<KEY>...]` variables, by lower-case name.

    Returns the raw fields of each name (a nested field is a dict of `<KEY>...` joined with `__`),
    each name as it was spelled, and the variable each (name, field) came from. Raises
    ConfigError naming the variable for a bad shape or name, or two spellings of one name.
    """
    raw: dict[str, dict[str, Any]] = {}
    spelled: dict[str, str] = {}
    origin: dict[tuple[str, str], str] = {}
    for key, value in environ.items():
        if not key.upper().startswith(prefix):
            continue
        rest = key[len(prefix) :]
        raw_name, sep, path = rest.partition("__")
        if not sep or not path:
            raise ConfigError(f"{key}: expected {prefix}<NAME>__<FIELD>, e.g. {prefix}{example}")
        name = raw_name.lower()
        if not NAME_RE.match(name):
            raise ConfigError(f"{key}: {kind} name {raw_name!r} may use letters, digits, '-' and single '_' only")
        if spelled.setdefault(name, raw_name) != raw_name:
            raise ConfigError(f"{key}: {kind} {name!r} is also configured as {spelled[name]!r}; use one spelling")
        parts = path.split("__")
        field = parts[0].lower()
        node = raw.setdefault(name, {"name": name})
        origin[(name, field)] = key
        if len(parts) == 1:
            node[field] = value
        else:
            nested = node.setdefault(field, {})
            if not isinstance(nested, dict):
                raise ConfigError(f"{key}: {field} is not a nested setting")
            nested["__".join(parts[1:])] = value
    return raw, spelled, origin


def invalid(
    exc: ValidationError, prefix: str, spelled: str, origin: Mapping[tuple[str, str], str], name: str, *, whole: str
) -> ConfigError:
    """The ConfigError for the first problem pydantic found, naming the variable it came from
    (`whole`: the field a whole-model check is about)."""
    first = exc.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else whole
    variable = origin.get((name, field), f"{prefix}{spelled}__{field.upper()}")
    reason = "unknown setting" if first["type"] == "extra_forbidden" else first["msg"].removeprefix("Value error, ")
    return ConfigError(f"{variable}: {reason}")


def validated[M: BaseModel](
    model: type[M],
    fields: dict[str, Any],
    prefix: str,
    kind: str,
    *,
    required: str,
    spelled: str,
    origin: Mapping[tuple[str, str], str],
    whole: str | None = None,
) -> M:
    """One `collect`ed entry as `model`, or the ConfigError naming the variable: the `required` field
    missing, or the first problem pydantic found (`whole`: what a whole-model check is about)."""
    name = fields["name"]
    if required not in fields:
        raise ConfigError(f"{prefix}{spelled}__{required.upper()} is required for {kind} {name!r}")
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise invalid(exc, prefix, spelled, origin, name, whole=whole or required) from None


def load_servers(environ: Mapping[str, str]) -> dict[str, ServerSettings]:
    """Build the upstream registry from `MCPHUB_SERVER_<NAME>__<FIELD>` variables.

    Raises ConfigError naming the offending variable for an unknown field, a bad value, a
    missing URL, a bad name, or two variables that spell the same server differently.
    """
    raw, spelled, origin = collect(environ, SERVER_PREFIX, example="GITHUB__URL", kind="server")
    servers: dict[str, ServerSettings] = {}
    for name, fields in sorted(raw.items()):
        # The one whole-model check is about AUTH.
        servers[name] = validated(
            ServerSettings,
            fields,
            SERVER_PREFIX,
            "server",
            required="url",
            spelled=spelled[name],
            origin=origin,
            whole="auth",
        )
    verbatim = [name for name, server in servers.items() if server.verbatim]
    if len(verbatim) > 1:
        raise ConfigError(f"MCPHUB_SERVER_<NAME>__VERBATIM: only one server may be verbatim, not {verbatim}")
    namespaces: dict[str, str] = {}
    for name, server in servers.items():
        other = namespaces.setdefault(server.namespace, name)
        if other != name:
            raise ConfigError(f"servers {other!r} and {name!r} share the tool prefix {server.namespace!r}")
    return servers


class RoutingSettings(BaseSettings):
    """Cross-region routing: `MCPHUB_ROUTING__<FIELD>`. KIND=none leaves routing to Front Door's probes."""

    model_config = SettingsConfigDict(env_prefix="MCPHUB_ROUTING__", extra="ignore", frozen=True)

    kind: Literal["none", "frontdoor", "haproxy"] = "none"
    subscription: str = ""
    resource_group: str = ""
    profile: str = ""
    origin_group: str = ""
    haproxy_admin: str = Field(default="", description="host:port of HAProxy's runtime API (local drill)")
    origins: CsvList = Field(default_factory=list[str], description="region=origin pairs when names differ")
    drain_probability: float = Field(default=0.6, gt=0, le=1)
    restore_after: int = Field(default=3, ge=1)
    cooldown_seconds: float = Field(default=300.0, ge=0)
    propagation_seconds: float = Field(default=120.0, ge=0)
    history_seconds: float = Field(default=600.0, ge=1)
    window_seconds: float = Field(default=60.0, gt=0, description="width of the per-region windows assessed")
    model: Literal["learned", "threshold"] = "learned"
    retrain_days: float = Field(
        default=28.0, ge=0, description="recorded days the learned model is retrained from daily (0 = never)"
    )
    retrain_held_back: float = Field(default=0.3, gt=0, lt=1, description="the latest share kept to compare on")

    @model_validator(mode="after")
    def _complete(self) -> RoutingSettings:
        if self.kind == "frontdoor" and not all(
            (self.subscription, self.resource_group, self.profile, self.origin_group)
        ):
            raise ValueError("MCPHUB_ROUTING__KIND=frontdoor needs SUBSCRIPTION, RESOURCE_GROUP, PROFILE, ORIGIN_GROUP")
        if self.kind == "haproxy" and ":" not in self.haproxy_admin:
            raise ValueError("MCPHUB_ROUTING__KIND=haproxy needs HAPROXY_ADMIN=host:port")
        return self

    @property
    def origin_map(self) -> dict[str, str]:
        return dict(pair.split("=", 1) for pair in self.origins if "=" in pair)


def _pairs(items: list[str], what: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        region, sep, value = item.partition("=")
        if not sep or not region.strip() or not value.strip():
            raise ValueError(f"{what}: {item!r} is not region=value")
        pairs[region.strip()] = value.strip()
    return pairs


class ScalingSettings(BaseSettings):
    """The capacity controller (shared/forecast/scaling.py): `MCPHUB_SCALING__<FIELD>`. MODE=off
    (the default) leaves Flex's settings to Bicep; dry-run records what it would set; apply sets it."""

    model_config = SettingsConfigDict(env_prefix="MCPHUB_SCALING__", extra="ignore", frozen=True)

    mode: Literal["off", "dry-run", "apply"] = "off"
    sites: CsvList = Field(default_factory=list[str], description="region=Function App resource ID pairs")
    arm_endpoint: str = Field(
        default="https://management.azure.com",
        pattern=r"^https?://[^/?#]+$",
        description="Resource Manager of the cloud the sites are in (sovereign clouds have their own)",
    )
    floors: CsvList = Field(default_factory=list[str], description="region=least always-ready instances")
    ceilings: CsvList = Field(default_factory=list[str], description="region=most instances")
    default_floor: int = Field(default=1, ge=0)
    default_ceiling: int = Field(default=100, ge=1, le=1000)
    cooldown_seconds: float = Field(default=1800.0, ge=0)
    max_step: int = Field(default=2, ge=1, description="always-ready instances one change may add or remove")
    max_maximum_step: int = Field(default=50, ge=1, description="maximum instances one change may add or remove")
    horizon_seconds: float = Field(default=3600.0, gt=0, description="how far ahead always-ready is sized")
    headroom: float = Field(default=1.5, ge=1.0, description="maximum instances over the day's peak")

    @model_validator(mode="after")
    def _complete(self) -> ScalingSettings:
        if self.mode != "off" and not self.sites:
            raise ValueError("MCPHUB_SCALING__MODE needs SITES=region=/subscriptions/…/providers/Microsoft.Web/sites/…")
        for region, site in self.site_map.items():
            if not site.startswith("/subscriptions/") or "/providers/Microsoft.Web/sites/" not in site:
                raise ValueError(f"MCPHUB_SCALING__SITES: {region}={site!r} is not a Function App resource ID")
        for what, values in (("FLOORS", self.floors), ("CEILINGS", self.ceilings)):
            for region, count in _pairs(values, f"MCPHUB_SCALING__{what}").items():
                if not count.isdigit():
                    raise ValueError(f"MCPHUB_SCALING__{what}: {region}={count!r} is not a whole number")
        return self

    @property
    def site_map(self) -> dict[str, str]:
        return _pairs(self.sites, "MCPHUB_SCALING__SITES")

    @property
    def floor_map(self) -> dict[str, int]:
        return {r: int(v) for r, v in _pairs(self.floors, "MCPHUB_SCALING__FLOORS").items()}

    @property
    def ceiling_map(self) -> dict[str, int]:
        return {r: int(v) for r, v in _pairs(self.ceilings, "MCPHUB_SCALING__CEILINGS").items()}
