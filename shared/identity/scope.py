"""What an operator or admin may see: the whole hub, or one tenant of a multi-tenant hub.

On a hub that admits several tenants (`MCPHUB_AUTH__TENANTS`), a Hub.Operator or Hub.Admin sees
their own tenant only: its usage, audit records, sessions and the servers open to it. The
hub-wide role (`MCPHUB_AUTH__HUB_WIDE_ROLE`, default `Hub.AllTenants`) widens that to every
tenant; it reaches no operator endpoint by itself. It counts only for users of the tenants in
`MCPHUB_AUTH__HUB_WIDE_TENANTS` (default: the first of `MCPHUB_AUTH__TENANTS`, the hub's home):
every tenant that consents to a multi-tenant app assigns that app's roles to its own users, so a
role alone would let any tenant's admin make themselves hub-wide. A hub with one tenant (or sign-in off) has no
one to hide anything from, so its operators see the whole hub, as before tenant scope existed.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.principal import Principal
from shared.settings import AuthSettings, ServerSettings


@dataclass(frozen=True, slots=True)
class Scope:
    tenant: str | None = None  # None: the whole hub
    label: str | None = None  # how the page names the tenant (its display name, alias or ID)

    @property
    def hub_wide(self) -> bool:
        return self.tenant is None

    def sees_tenant(self, tenant: str | None) -> bool:
        return self.tenant is None or tenant == self.tenant

    def sees_server(self, server: ServerSettings) -> bool:
        """A server open to the tenant (one without TENANTS is open to all of them)."""
        return self.tenant is None or not server.tenants or self.tenant in server.tenants

    def sees_user(self, user_key: str) -> bool:
        return self.tenant is None or user_key.startswith(f"{self.tenant}:")

    def wire(self) -> dict[str, str | None]:
        return {"kind": "hub" if self.tenant is None else "tenant", "tenant": self.tenant, "label": self.label}


HUB_WIDE = Scope()


def operator_scope(principal: Principal, auth: AuthSettings, label: str | None = None) -> Scope:
    """The scope of an operator or admin (whose role was checked already)."""
    if not auth.multi_tenant:
        return HUB_WIDE
    if auth.hub_wide_role in principal.roles and principal.tenant_id in auth.hub_wide_from:
        return HUB_WIDE
    return Scope(principal.tenant_id, label or principal.tenant_id)
