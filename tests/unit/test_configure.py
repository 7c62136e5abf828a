"""Natural-language configuration: needs in plain words → the right catalog servers with reasons →
settings the hub's own validator accepts, secrets never filled in; and advice from usage."""

from __future__ import annotations

import pytest

from shared.configure.advice import advice
from shared.configure.recommend import Recommender, bicep_for, catalog, settings_for, validate
from shared.errors import ConfigError
from shared.settings import ServerSettings


def test_the_catalog_is_in_the_registry_shape_and_every_entry_can_be_configured() -> None:
    entries = catalog()
    assert len(entries) >= 20
    assert len({e.key for e in entries}) == len(entries)
    validate(settings_for(list(entries)))  # raises ConfigError naming the variable if not


def test_jira_and_github_needs_get_atlassian_and_github_with_their_reasons() -> None:
    found = Recommender().recommend("we track bugs in Jira and keep code on GitHub", 3)
    assert {s.entry.key for s in found[:2]} == {"github", "atlassian"}
    atlassian = next(s for s in found if s.entry.key == "atlassian")
    assert "jira" in atlassian.reasons


@pytest.mark.parametrize(
    ("need", "expected"),
    [
        ("our production errors and stack traces", "sentry"),
        ("charge customers and send invoices", "stripe"),
        ("look things up in the Azure docs", "microsoft-learn"),
        ("see the logs of our pods on AKS", "kubernetes"),
    ],
)
def test_a_need_in_other_words_finds_its_server_first(need: str, expected: str) -> None:
    assert Recommender().recommend(need, 1)[0].entry.key == expected


def test_settings_leave_every_secret_to_the_operator_and_say_so() -> None:
    entries = {e.key: e for e in catalog()}
    env = settings_for([entries["github"], entries["atlassian"], entries["kubernetes"]])
    assert env["MCPHUB_SERVER_GITHUB__AUTH"] == "user_token"  # each user connects their own token
    assert "REPLACE-ME" in env["MCPHUB_SERVER_ATLASSIAN__OAUTH_CLIENT_SECRET"]
    assert env["MCPHUB_SERVER_KUBERNETES__SCOPE"].startswith("api://REPLACE-ME")
    bicep = bicep_for(env)
    assert "MCPHUB_SERVER_ATLASSIAN__OAUTH_CLIENT_SECRET: '@Microsoft.KeyVault(" in bicep


def test_a_setting_the_hub_would_refuse_is_refused_here_too() -> None:
    with pytest.raises(ConfigError, match="MCPHUB_SERVER_BAD__AUTH"):
        validate({"MCPHUB_SERVER_BAD__URL": "https://x.example/mcp", "MCPHUB_SERVER_BAD__AUTH": "user_oauth"})


def server(name: str, timeout: float = 30.0) -> ServerSettings:
    return ServerSettings.model_validate({"name": name, "url": f"https://{name}.example/mcp", "timeout": timeout})


def test_usage_advice_names_unused_servers_tight_and_loose_timeouts() -> None:
    report = {
        "byServer": [
            {"key": "slow", "requests": 100, "errorRate": 0.0, "p99Ms": 9000.0, "outcomes": {"ok": 100}},
            {"key": "fast", "requests": 100, "errorRate": 0.1, "p99Ms": 50.0, "outcomes": {"ok": 90, "error": 10}},
        ],
        "topTools": [{"key": "slow/export", "p95Ms": 8000.0}],
    }
    given = advice(report, {"slow": server("slow", 10), "fast": server("fast", 60), "idle": server("idle")})
    kinds = {(a["server"], a["kind"]) for a in given}
    assert kinds == {
        ("idle", "unused"),
        ("slow", "timeout-tight"),
        ("fast", "timeout-loose"),
        ("fast", "failing"),
        ("slow", "slow-tool"),
    }
    assert any("MCPHUB_SERVER_SLOW__TIMEOUT" in a["advice"] for a in given)
