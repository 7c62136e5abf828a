"""Tenant aliases: `MCPHUB_TENANT_<ALIAS>__ID=<tenant id>`, so settings name tenants by alias.

Entra tenant IDs are GUIDs, and `-` is not allowed in an App Service setting's name, so a
setting that names a tenant takes its alias instead:

    MCPHUB_TENANT_CONTOSO__ID=72f988bf-86f1-41af-91ab-2d7cd011db47
    MCPHUB_TENANT_CONTOSO__LABEL=Contoso Ltd         (optional: how the operator page names it)
    MCPHUB_AUTH__TENANTS=contoso,fabrikam
    MCPHUB_AUTH__HUB_WIDE_TENANTS=contoso
    MCPHUB_SERVER_JIRA__TENANTS=contoso
    MCPHUB_LIMIT_FABRIKAM__TENANT=fabrikam

`resolve` turns every value of those settings (`TENANT_SETTINGS`) into tenant IDs before they are
validated. A value that is no alias is taken as a tenant ID, as before aliases existed; once any
alias is defined, such a value must look like one (a GUID), so a misspelt alias is an error at
start that names the variable instead of a tenant nobody can sign in from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import ConfigError

TENANT_PREFIX = "MCPHUB_TENANT_"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# Which settings name tenants (a comma-separated list each): the variable's name, matched whole.
TENANT_SETTINGS = (
    re.compile(r"^MCPHUB_AUTH__(HUB_WIDE_)?TENANTS$", re.IGNORECASE),
    re.compile(r"^MCPHUB_SERVER_[^_](?:[^_]|_(?!_))*__TENANTS$", re.IGNORECASE),
    re.compile(r"^MCPHUB_LIMIT_[^_](?:[^_]|_(?!_))*__TENANT$", re.IGNORECASE),
)


class TenantSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str  # the alias, lower-case
    id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$")
    label: str = Field(default="", max_length=200, description="how the operator page names the tenant")


@dataclass(frozen=True)
class Tenants:
    """The aliases an operator defined, both ways round."""

    by_alias: Mapping[str, TenantSettings] = field(default_factory=dict[str, TenantSettings])

    @cached_property
    def by_id(self) -> dict[str, TenantSettings]:
        return {tenant.id: tenant for tenant in self.by_alias.values()}

    def alias_of(self, tenant_id: str) -> str | None:
        found = self.by_id.get(tenant_id)
        return found.name if found else None

    def label(self, tenant_id: str) -> str:
        """How the operator page names a tenant: its label, alias, or ID."""
        found = self.by_id.get(tenant_id)
        return (found.label or found.name) if found else tenant_id

    def id_of(self, value: str) -> str:
        """The tenant ID `value` names: an alias's ID, or the value itself."""
        found = self.by_alias.get(value.lower())
        return found.id if found is not None else value

    def tenant_id(self, value: str, variable: str) -> str:
        """The tenant ID `value` names in `variable` (an alias, or an ID itself)."""
        if value.lower() in self.by_alias:
            return self.id_of(value)
        if self.by_alias and not _GUID.match(value):
            known = ", ".join(sorted(self.by_alias))
            raise ConfigError(
                f"{variable}: {value!r} is neither a tenant alias ({known}; MCPHUB_TENANT_<ALIAS>__ID) "
                "nor a tenant ID (a GUID)"
            )
        return value

    def resolve(self, environ: Mapping[str, str]) -> dict[str, str]:
        """`environ` with every tenant-naming setting's aliases replaced by tenant IDs."""
        out = dict(environ)
        for key, value in environ.items():
            if any(pattern.match(key) for pattern in TENANT_SETTINGS):
                parts = [part.strip() for part in value.split(",") if part.strip()]
                out[key] = ",".join(self.tenant_id(part, key) for part in parts)
        return out


def load_tenants(environ: Mapping[str, str]) -> Tenants:
    """The `MCPHUB_TENANT_<ALIAS>__<FIELD>` aliases; ConfigError names the variable at fault."""
    from shared.settings import collect, validated  # settings imports nothing of this module's

    raw, spelled, origin = collect(environ, TENANT_PREFIX, example="CONTOSO__ID", kind="tenant alias")
    by_alias: dict[str, TenantSettings] = {}
    owner: dict[str, str] = {}
    for alias, fields in sorted(raw.items()):
        tenant = validated(
            TenantSettings, fields, TENANT_PREFIX, "tenant alias", required="id", spelled=spelled[alias], origin=origin
        )
        other = owner.setdefault(tenant.id, alias)
        if other != alias:
            raise ConfigError(f"{origin[(alias, 'id')]}: tenant {tenant.id} already has the alias {other!r}")
        by_alias[alias] = tenant
    return Tenants(by_alias)
