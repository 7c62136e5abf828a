"""Tenant scope: aliases in settings, what an operator of one tenant sees (usage exactly, audit
records, sessions, servers, configuration), and the audit chain verified whole for them."""

from __future__ import annotations

import pytest

from functions._deps import load_config
from infra.usage_rows import SERVERS, TOOLS, rows
from shared.audit.sources import vault_keys
from shared.audit.store import MemoryAuditStore
from shared.audit.trail import AuditTrail
from shared.call_record import CallRecord, PluginEvent
from shared.errors import ConfigError
from shared.hub.running_config import running_config
from shared.identity.access import roles_across_tenants
from shared.identity.scope import HUB_WIDE, Scope, operator_scope
from shared.limits.rules import load_limits
from shared.principal import Principal
from shared.sealing import Sealer
from shared.settings import AuthSettings, load_auth, load_servers
from shared.tenants import Tenants, load_tenants
from shared.usage.meter import UsageMeter
from shared.usage.report import usage_report
from shared.usage.store import MemoryUsageStore

pytestmark = pytest.mark.anyio
CONTOSO = "72f988bf-86f1-41af-91ab-2d7cd011db47"
FABRIKAM = "0b5a6a4e-1c63-4d7f-9a36-5a1bde0c3f11"
ALIASES = {"MCPHUB_TENANT_CONTOSO__ID": CONTOSO, "MCPHUB_TENANT_FABRIKAM__ID": FABRIKAM}
T0 = 1_764_000_000.0  # a whole hour


def test_settings_that_name_tenants_take_aliases_and_get_tenant_ids() -> None:
    tenants = load_tenants({**ALIASES, "MCPHUB_TENANT_CONTOSO__LABEL": "Contoso Ltd"})
    environ = tenants.resolve(
        {
            **ALIASES,
            "MCPHUB_AUTH__MODE": "entra",
            "MCPHUB_AUTH__TENANTS": "contoso, Fabrikam",
            "MCPHUB_AUTH__AUDIENCES": "api://hub",
            "MCPHUB_SERVER_JIRA__URL": "https://jira.example/mcp",
            "MCPHUB_SERVER_JIRA__TENANTS": "fabrikam",
            "MCPHUB_LIMIT_CONTOSO__TENANT": "contoso",
            "MCPHUB_LIMIT_CONTOSO__REQUESTS": "10",
            "MCPHUB_LIMIT_CONTOSO__PER": "tenant",
        }
    )
    assert load_auth(environ).tenants == [CONTOSO, FABRIKAM]
    servers = load_servers(environ)
    assert servers["jira"].tenants == [FABRIKAM]
    assert load_limits(environ, servers)[0].tenant == CONTOSO
    assert tenants.label(CONTOSO) == "Contoso Ltd"
    assert tenants.label(FABRIKAM) == "fabrikam"
    assert tenants.alias_of(FABRIKAM) == "fabrikam"
    assert tenants.alias_of("someone-else") is None


def test_a_misspelt_alias_is_refused_at_start_naming_the_variable_and_the_aliases() -> None:
    with pytest.raises(ConfigError, match=r"MCPHUB_SERVER_JIRA__TENANTS: 'contso' is neither a tenant alias \(contoso"):
        load_tenants(ALIASES).resolve({"MCPHUB_SERVER_JIRA__TENANTS": "contso"})


def test_tenant_ids_still_work_with_aliases_defined_and_any_id_works_without_them() -> None:
    assert load_tenants(ALIASES).resolve({"MCPHUB_AUTH__TENANTS": FABRIKAM})["MCPHUB_AUTH__TENANTS"] == FABRIKAM
    # Before aliases existed any tenant ID was taken as written (the local authority's are not GUIDs).
    assert Tenants().resolve({"MCPHUB_LIMIT_A__TENANT": "tenant-a"})["MCPHUB_LIMIT_A__TENANT"] == "tenant-a"


def test_hub_wide_tenants_must_be_tenants_the_hub_admits() -> None:
    with pytest.raises(ConfigError, match=r"MCPHUB_AUTH__HUB_WIDE_TENANTS: \['other'\] not in MCPHUB_AUTH__TENANTS"):
        load_auth(
            {
                "MCPHUB_AUTH__TENANTS": "a,b",
                "MCPHUB_AUTH__AUDIENCES": "api://hub",
                "MCPHUB_AUTH__HUB_WIDE_TENANTS": "other",
            }
        )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"MCPHUB_TENANT_CONTOSO__LABEL": "Contoso"}, "MCPHUB_TENANT_CONTOSO__ID is required"),
        ({"MCPHUB_TENANT_CONTOSO__ID": "a b"}, "MCPHUB_TENANT_CONTOSO__ID: String should match"),
        ({"MCPHUB_TENANT_CONTOSO__ID": CONTOSO, "MCPHUB_TENANT_CONTOSO__REGION": "x"}, "__REGION: unknown setting"),
        ({**ALIASES, "MCPHUB_TENANT_OTHER__ID": CONTOSO}, "MCPHUB_TENANT_OTHER__ID: tenant .* already has the alias"),
        ({"MCPHUB_TENANT_CONTOSO": CONTOSO}, "expected MCPHUB_TENANT_<NAME>__<FIELD>"),
    ],
    ids=["no id", "bad id", "unknown field", "one tenant two aliases", "no field"],
)
def test_bad_alias_settings_are_refused_naming_the_variable(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_tenants(environ)


def test_the_hub_configuration_resolves_aliases_everywhere_a_setting_names_a_tenant() -> None:
    environ = {
        **ALIASES,
        "MCPHUB_AUTH__MODE": "entra",
        "MCPHUB_AUTH__TENANTS": "contoso,fabrikam",
        "MCPHUB_AUTH__AUDIENCES": "api://hub",
        "MCPHUB_SERVER_NOTES__URL": "https://notes.example/mcp",
        "MCPHUB_SERVER_NOTES__TENANTS": "contoso",
    }
    config = load_config(environ)
    assert config.auth.tenants == [CONTOSO, FABRIKAM]
    assert config.servers["notes"].tenants == [CONTOSO]
    assert config.tenants.alias_of(CONTOSO) == "contoso"


def auth(*tenants: str) -> AuthSettings:
    return AuthSettings(mode="entra", tenants=list(tenants), audiences=["api://hub"])


def test_operators_of_a_multi_tenant_hub_see_their_tenant_unless_they_hold_the_hub_wide_role() -> None:
    operator = Principal(CONTOSO, "op", roles=frozenset({"Hub.Operator"}))
    assert operator_scope(operator, auth(CONTOSO, FABRIKAM), "Contoso") == Scope(CONTOSO, "Contoso")
    wide = Principal(CONTOSO, "op", roles=frozenset({"Hub.Operator", "Hub.AllTenants"}))
    assert operator_scope(wide, auth(CONTOSO, FABRIKAM)) is HUB_WIDE
    # Every consenting tenant assigns the app's roles to its own users: the role counts from the home tenant only.
    guest = Principal(FABRIKAM, "op", roles=frozenset({"Hub.Operator", "Hub.AllTenants"}))
    assert operator_scope(guest, auth(CONTOSO, FABRIKAM)).tenant == FABRIKAM
    both = auth(CONTOSO, FABRIKAM).model_copy(update={"hub_wide_tenants": [CONTOSO, FABRIKAM]})
    assert operator_scope(guest, both) is HUB_WIDE
    custom = auth(CONTOSO, FABRIKAM).model_copy(update={"hub_wide_role": "Hub.Platform"})
    assert operator_scope(wide, custom).tenant == CONTOSO
    # One tenant, or sign-in off: nobody else's data to hide, so the whole hub, as before.
    assert operator_scope(operator, auth(CONTOSO)) is HUB_WIDE
    assert operator_scope(operator, AuthSettings(mode="off")) is HUB_WIDE


def call(tenant: str, user: str, server: str, tool: str, ms: float, outcome: str = "ok") -> CallRecord:
    return CallRecord(
        at=T0 + 60,
        user=f"{tenant}:{user}",
        tenant=tenant,
        server=server,
        method="tools/call",
        tool=tool,
        outcome=outcome,
        seconds=ms / 1000,
        region="weu",
        session=f"{tenant}-{user}-session",
    )


async def test_a_tenants_usage_is_exact_in_every_breakdown_and_the_hub_view_is_unchanged() -> None:
    store = MemoryUsageStore()
    meter = UsageMeter(store, instance="a", clock=lambda: T0)
    calls = [
        call(CONTOSO, "alice", "notes", "echo", 10),
        call(CONTOSO, "alice", "notes", "echo", 12),
        call(CONTOSO, "bob", "jira", "search", 400, "upstream_error"),
        call(FABRIKAM, "carol", "notes", "echo", 900),
        call(FABRIKAM, "carol", "jira", "search", 30),
        call(FABRIKAM, "dave", "jira", "create", 40),
    ]
    for record in calls:
        meter(record)
    refusal = PluginEvent(T0 + 60, "deny", "before_tool_call", "refused", f"{FABRIKAM}:c", FABRIKAM, "jira", "x", "no")
    meter.plugin(refusal)
    await meter.flush()
    hub = await usage_report(store, T0, T0 + 3000)
    contoso = await usage_report(store, T0, T0 + 3000, tenant=CONTOSO)
    fabrikam = await usage_report(store, T0, T0 + 3000, tenant=FABRIKAM)

    assert hub["totals"]["requests"] == 6
    assert hub["activeTenants"] == 2
    assert hub["activeUsers"] == 4
    assert {r["key"]: r["requests"] for r in hub["byServer"]} == {"notes": 3, "jira": 3}
    assert contoso["totals"]["requests"] == 3
    assert contoso["totals"]["errors"] == 1
    assert contoso["totals"]["p95Ms"] is not None
    assert contoso["totals"]["maxMs"] == 400
    assert {r["key"]: r["requests"] for r in contoso["byServer"]} == {"notes": 2, "jira": 1}
    assert {r["key"]: r["requests"] for r in contoso["topTools"]} == {"notes/echo": 2, "jira/search": 1}
    assert {r["key"] for r in contoso["byUser"]} == {f"{CONTOSO}:alice", f"{CONTOSO}:bob"}
    assert contoso["activeUsers"] == 2
    assert contoso["activeSessions"] == 2
    assert contoso["activeTenants"] == 1
    assert sum(p["requests"] for p in contoso["series"]["points"]) == 3
    assert contoso["byPlugin"] == []
    assert [p["refused"] for p in fabrikam["byPlugin"]] == [1]
    assert fabrikam["totals"]["maxMs"] == 900
    assert {r["key"] for r in fabrikam["failingUpstreams"]} == set()
    assert {r["key"]: r["requests"] for r in fabrikam["byRegion"]} == {"weu": 3}
    nobody = await usage_report(store, T0, T0 + 3000, tenant="someone-else")
    assert nobody["totals"]["requests"] == 0
    assert nobody["byServer"] == []
    assert nobody["byUser"] == []


async def test_a_hub_with_one_tenant_writes_no_per_tenant_rows_and_sessions_are_not_counted_twice() -> None:
    for per_tenant, crossed in ((False, 0), (True, 4 + 1)):  # hourly total, server, region, tool; 5-minute total
        store = MemoryUsageStore()
        meter = UsageMeter(store, instance="a", clock=lambda: T0, per_tenant=per_tenant)
        meter(call(CONTOSO, "alice", "notes", "echo", 10))
        await meter.flush()
        dimensions = [row["Dimension"] for row in store.rows.values()]
        assert sum(d.endswith("@tenant") for d in dimensions) == crossed
        assert dimensions.count("session") == 1


async def test_an_admin_of_one_tenant_verifies_the_whole_chain_with_only_their_records_counted() -> None:
    store = MemoryAuditStore()
    trail = AuditTrail(store, vault_keys(Sealer([b"k" * 32])), instance="i", region="weu", clock=lambda: T0 + 5)
    for n in range(5):
        trail.record("tool.call", user=f"{CONTOSO}:u{n}", server="notes")
    for n in range(3):
        trail.record("tool.call", user=f"{FABRIKAM}:u{n}", server="notes")
    trail.record("routing.changed", region="weu")  # about no tenant
    await trail.flush()
    hour = int(T0 // 3600)
    whole = await trail.verify(hour, hour)
    mine = await trail.verify(hour, hour, tenant=FABRIKAM)
    assert whole.intact
    assert mine.intact
    assert whole.rows == 9
    assert mine.rows == 3
    found = await trail.search(hour, hour, {"tenant": FABRIKAM}, after=None, limit=100)
    assert {r["user"] for r in found} == {f"{FABRIKAM}:u{n}" for n in range(3)}

    (block,) = [row for row in store.rows.values() if "Records" in row]  # tamper with another tenant's record
    block["Records"] = block["Records"].replace(f"{CONTOSO}:u1", f"{CONTOSO}:uX")
    broken = await trail.verify(hour, hour, tenant=FABRIKAM)
    assert not broken.intact
    assert broken.findings[0].problem == "was changed after it was written"


def test_the_running_configuration_of_one_tenant_shows_its_servers_limits_and_alias_only() -> None:
    tenants = load_tenants(ALIASES)
    environ = tenants.resolve(
        {
            "MCPHUB_SERVER_OPEN__URL": "https://open.example/mcp",
            "MCPHUB_SERVER_JIRA__URL": "https://jira.example/mcp",
            "MCPHUB_SERVER_JIRA__TENANTS": "fabrikam",
            "MCPHUB_LIMIT_EVERYONE__REQUESTS": "100",
            "MCPHUB_LIMIT_FABRIKAM__REQUESTS": "10",
            "MCPHUB_LIMIT_FABRIKAM__TENANT": "fabrikam",
        }
    )
    servers = load_servers(environ)
    limits = load_limits(environ, servers)
    sections = {"auth": auth(CONTOSO, FABRIKAM)}
    scoped = running_config(sections, servers, limits, tenants=tenants, scope=Scope(CONTOSO, "contoso"))
    assert set(scoped["servers"]) == {"open"}
    assert [rule["name"] for rule in scoped["limits"]] == ["everyone"]
    assert set(scoped["tenants"]) == {"contoso"}
    assert scoped["auth"]["tenants"] == [CONTOSO]
    whole = running_config(sections, servers, limits, tenants=tenants)
    assert set(whole["servers"]) == {"open", "jira"}
    assert set(whole["tenants"]) == {"contoso", "fabrikam"}
    assert whole["auth"]["tenants"] == [CONTOSO, FABRIKAM]


@pytest.mark.parametrize("tenants", [1, 2, 5])
async def test_per_tenant_rows_are_what_the_readme_says_each_active_tenant_adds(tenants: int) -> None:
    _, crossed = await rows(tenants)
    per_tenant = 12 + 1 + SERVERS + 1 + SERVERS * TOOLS  # 5-minute totals; hourly total, servers, region, tools
    assert crossed == (0 if tenants == 1 else tenants * per_tenant)


def test_a_server_limited_by_roles_alone_on_a_multi_tenant_hub_is_warned_about_naming_the_setting() -> None:
    servers = load_servers(
        {
            "MCPHUB_SERVER_JIRA__URL": "https://jira.example/mcp",
            "MCPHUB_SERVER_JIRA__ROLES": "Hub.Jira",
            "MCPHUB_SERVER_HR__URL": "https://hr.example/mcp",
            "MCPHUB_SERVER_HR__ROLES": "Hub.HR",
            "MCPHUB_SERVER_HR__TENANTS": CONTOSO,
            "MCPHUB_SERVER_OPEN__URL": "https://open.example/mcp",
        }
    )
    (warning,) = roles_across_tenants([CONTOSO, FABRIKAM], servers)
    assert warning.startswith("server 'jira' is limited by app roles (Hub.Jira) on a hub with 2 tenants")
    assert "MCPHUB_SERVER_JIRA__TENANTS" in warning
    assert roles_across_tenants([CONTOSO], servers) == []
