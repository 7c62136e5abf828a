"""Rate-limit rules, configured like servers: `MCPHUB_LIMIT_<NAME>__<FIELD>`.

    MCPHUB_LIMIT_PERUSER__REQUESTS=120        # each user: 120 upstream requests ...
    MCPHUB_LIMIT_PERUSER__SECONDS=60          # ... per minute, across all servers
    MCPHUB_LIMIT_GITHUB__PER=all              # everyone together ...
    MCPHUB_LIMIT_GITHUB__SERVER=github        # ... may send github 1000 a minute (protects the upstream)
    MCPHUB_LIMIT_GITHUB__REQUESTS=1000
    MCPHUB_LIMIT_CONTRACTORS__ROLE=Hub.Contractor   # only callers with this app role (or GROUP=<object id>)

`PER` says who shares one budget: `user` (each user their own), `tenant` (each tenant), or `all`.
`SERVER`, `ROLE`, `GROUP` and `TENANT` narrow which calls a rule counts. Every rule that applies
to a call must admit it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.errors import ConfigError
from shared.principal import Principal

LIMIT_PREFIX = "MCPHUB_LIMIT_"
_NAME_RE = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")


class LimitRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    requests: int = Field(gt=0)
    seconds: float = Field(default=60.0, gt=0, le=86400)
    per: Literal["user", "tenant", "all"] = "user"
    server: str | None = None
    role: str | None = None
    group: str | None = None
    tenant: str | None = None

    def applies(self, principal: Principal, server: str) -> bool:
        return (
            (self.server is None or self.server == server)
            and (self.role is None or self.role in principal.roles)
            and (self.group is None or self.group in principal.groups)
            and (self.tenant is None or self.tenant == principal.tenant_id)
        )

    def subject(self, principal: Principal) -> str:
        """Whose budget a call of `principal` draws from."""
        if self.per == "user":
            return principal.key
        if self.per == "tenant":
            return principal.tenant_id
        return "*"

    def describe(self) -> str:
        scope = {"user": "per user", "tenant": "per tenant", "all": "for everyone together"}[self.per]
        where = f" to {self.server!r}" if self.server else ""
        return f"{self.requests} requests{where} per {self.seconds:g} s {scope}"


def load_limits(environ: Mapping[str, str], servers: Mapping[str, object]) -> list[LimitRule]:
    """The rules in `environ`; ConfigError names the variable at fault."""
    raw: dict[str, dict[str, Any]] = {}
    origin: dict[str, str] = {}
    for key, value in environ.items():
        if not key.upper().startswith(LIMIT_PREFIX):
            continue
        name, sep, field = key[len(LIMIT_PREFIX) :].partition("__")
        if not sep or not field or "__" in field:
            raise ConfigError(f"{key}: expected {LIMIT_PREFIX}<NAME>__<FIELD>, e.g. {LIMIT_PREFIX}PERUSER__REQUESTS")
        if not _NAME_RE.match(name.lower()):
            raise ConfigError(f"{key}: limit name {name!r} may use letters, digits, '-' and single '_' only")
        raw.setdefault(name.lower(), {"name": name.lower()})[field.lower()] = value
        origin[name.lower()] = key
    rules: list[LimitRule] = []
    for name, fields in sorted(raw.items()):
        try:
            rule = LimitRule.model_validate(fields)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = str(first["loc"][0]).upper() if first["loc"] else "REQUESTS"
            raise ConfigError(f"{LIMIT_PREFIX}{name.upper()}__{field}: {first['msg']}") from None
        if rule.server is not None and rule.server not in servers:
            raise ConfigError(
                f"{origin[name].rsplit('__', 1)[0]}__SERVER: no server named {rule.server!r} is configured"
            )
        rules.append(rule)
    return rules
