"""The caller as the hub sees it after its token was verified."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.errors import Unauthenticated


@dataclass(frozen=True, slots=True)
class Principal:
    """A user of one tenant. `key` ("<tid>:<oid>") owns sessions and credentials.

    `groups_overage` is set when Entra left the groups out of the token (over 200 of them) and
    pointed at Graph instead: group-based checks cannot be answered from the token then.
    """

    tenant_id: str
    object_id: str
    name: str = ""
    roles: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    groups_overage: bool = False
    acrs: frozenset[str] = frozenset()  # Conditional Access authentication contexts satisfied
    expires_at: float = 0.0  # the token's exp
    via: str = "entra"  # who issued the token: "entra" (usable for on-behalf-of) or "hub" (the facade)

    @property
    def key(self) -> str:
        return f"{self.tenant_id}:{self.object_id}"

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Principal:
        tenant, subject = claims.get("tid"), claims.get("oid")
        if not isinstance(tenant, str) or not tenant or not isinstance(subject, str) or not subject:
            raise Unauthenticated("the token names no tenant (tid) or user (oid)")
        claim_names = claims.get("_claim_names")
        return cls(
            tenant_id=tenant,
            object_id=subject,
            name=str(claims.get("preferred_username") or claims.get("name") or ""),
            roles=_strings(claims.get("roles")),
            groups=_strings(claims.get("groups")),
            scopes=frozenset(str(claims.get("scp") or "").split()),
            groups_overage=isinstance(claim_names, Mapping) and "groups" in claim_names,
            acrs=_strings(claims.get("acrs")),
            expires_at=float(claims.get("exp") or 0),
        )


def _strings(value: object) -> frozenset[str]:
    if isinstance(value, list | tuple):
        return frozenset(str(item) for item in value)  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType] - JSON of unknown shape: isinstance narrows the container, not its items
    return frozenset()


# The caller when authentication is switched off (MCPHUB_AUTH__MODE=off): one shared identity.
ANONYMOUS = Principal(tenant_id="local", object_id="anonymous", name="anonymous")
