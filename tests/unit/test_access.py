"""Which servers a principal sees: roles, groups, tenants, and the groups overage marker."""

from __future__ import annotations

from shared.identity.access import may_see, visible_servers
from shared.principal import Principal
from shared.settings import ServerSettings


def server(name: str, **fields: str) -> ServerSettings:
    return ServerSettings.model_validate({"name": name, "url": f"http://{name}.test/mcp", **fields})


ALICE = Principal("t1", "alice", roles=frozenset({"Hub.User"}), groups=frozenset({"g-dev"}))
BOB = Principal("t2", "bob", roles=frozenset({"Hub.Admin"}))
OVERAGE = Principal("t1", "carol", roles=frozenset({"Hub.User"}), groups_overage=True)


def test_a_server_without_restrictions_is_visible_to_every_signed_in_user() -> None:
    assert may_see(ALICE, server("open"))
    assert may_see(BOB, server("open"))


def test_a_role_restricted_server_is_visible_only_to_holders_of_a_listed_role() -> None:
    admin_only = server("admin", roles="Hub.Admin,Hub.Operator")
    assert may_see(BOB, admin_only)
    assert not may_see(ALICE, admin_only)


def test_a_group_restricted_server_is_visible_to_group_members() -> None:
    devs = server("devs", groups="g-dev")
    assert may_see(ALICE, devs)
    assert not may_see(BOB, devs)


def test_a_groups_overage_token_is_denied_group_only_servers_but_not_role_servers() -> None:
    assert not may_see(OVERAGE, server("devs", groups="g-dev"))
    assert may_see(OVERAGE, server("either", groups="g-dev", roles="Hub.User"))


def test_a_tenant_limited_server_is_invisible_to_other_tenants_whatever_their_roles() -> None:
    contoso = server("contoso", tenants="t1", roles="Hub.Admin,Hub.User")
    assert may_see(ALICE, contoso)
    assert not may_see(BOB, contoso)


def test_a_disabled_server_is_visible_to_nobody() -> None:
    assert not may_see(BOB, server("off", enabled="false"))


def test_visible_servers_names_exactly_the_servers_the_principal_may_see() -> None:
    servers = {s.name: s for s in (server("open"), server("admin", roles="Hub.Admin"), server("devs", groups="g-dev"))}
    assert visible_servers(ALICE, servers) == {"open", "devs"}
    assert visible_servers(BOB, servers) == {"open", "admin"}


def test_principal_from_entra_claims_reads_roles_groups_scopes_and_the_overage_marker() -> None:
    principal = Principal.from_claims(
        {
            "tid": "t1",
            "oid": "o1",
            "roles": ["Hub.User"],
            "scp": "MCP.Access offline_access",
            "_claim_names": {"groups": "src1"},
            "_claim_sources": {"src1": {"endpoint": "https://graph.microsoft.com/v1.0/users/o1/getMemberObjects"}},
        }
    )
    assert principal.key == "t1:o1"
    assert principal.scopes == {"MCP.Access", "offline_access"}
    assert principal.groups_overage
    assert not principal.groups
