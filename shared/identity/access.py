"""Which upstream servers a principal may see.

A server with no `ROLES`, `GROUPS` or `TENANTS` setting is open to every signed-in user. With
roles and/or groups, the caller needs one of them; with tenants, the caller's tenant must be
listed. A server the caller may not see behaves exactly like one that does not exist.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping

from shared.errors import StepUpRequired
from shared.principal import Principal
from shared.settings import ServerSettings

log = logging.getLogger(__name__)

# App roles of the hub's own Entra app that reach the operator endpoints and tools.
ADMIN = frozenset({"Hub.Admin"})
OPERATORS = frozenset({"Hub.Admin", "Hub.Operator"})


def is_operator(principal: Principal, *, auth_off: bool) -> bool:
    """With sign-in off (local runs) everyone operates the hub."""
    return auth_off or bool(principal.roles & OPERATORS)


def may_see(principal: Principal, server: ServerSettings) -> bool:
    if not server.enabled:
        return False
    if server.tenants and principal.tenant_id not in server.tenants:
        return False
    if not server.roles and not server.groups:
        return True
    if principal.roles.intersection(server.roles):
        return True
    if server.groups and principal.groups_overage and not principal.groups:
        # Entra sent a Graph pointer instead of the groups: deny rather than guess, and say why.
        log.info("server %r is limited to groups, but the caller's token has a groups overage", server.name)
        return False
    return bool(principal.groups.intersection(server.groups))


def visible_servers(principal: Principal, servers: Mapping[str, ServerSettings]) -> frozenset[str]:
    return frozenset(name for name, server in servers.items() if may_see(principal, server))


def roles_across_tenants(tenants: Collection[str], servers: Mapping[str, ServerSettings]) -> list[str]:
    """Warnings for servers limited by app roles alone on a hub that admits several tenants: each
    consenting tenant's admins assign the hub app's roles to their own users, so ROLES without
    TENANTS opens the server to any tenant whose admin grants the role. (Group object IDs belong to
    one tenant, so GROUPS does not have this gap.)"""
    if len(tenants) <= 1:
        return []
    return [
        f"server {name!r} is limited by app roles ({', '.join(server.roles)}) on a hub with {len(tenants)} tenants: "
        f"each tenant's admins assign those roles to their own users; set MCPHUB_SERVER_{name.upper()}__TENANTS "
        "to limit it to some tenants"
        for name, server in sorted(servers.items())
        if server.roles and not server.tenants
    ]


def check_step_up(principal: Principal, server: ServerSettings) -> None:
    """StepUpRequired when `server` needs an authentication context the caller's token lacks."""
    if server.auth_context and server.auth_context not in principal.acrs:
        raise StepUpRequired(
            f"server {server.name!r} needs a stronger sign-in (authentication context {server.auth_context}); "
            "sign in again when your client asks",
            auth_context=server.auth_context,
        )


def stepped_up(principal: Principal, server: ServerSettings) -> bool:
    return not server.auth_context or server.auth_context in principal.acrs
