from __future__ import annotations

import pytest

from shared.errors import ConfigError
from shared.settings import load_servers


def test_servers_are_built_from_prefixed_variables() -> None:
    servers = load_servers(
        {
            "MCPHUB_SERVER_GITHUB__URL": "https://example.com/mcp",
            "MCPHUB_SERVER_GITHUB__TIMEOUT": "10",
            "MCPHUB_SERVER_GITHUB__HEADERS__X_API_KEY": "s3cret",
            "MCPHUB_SERVER_GITHUB__TOOLS_INCLUDE": "search_*, get_issue",
            "MCPHUB_SERVER_JIRA__URL": "http://127.0.0.1:9000/mcp",
            "UNRELATED": "x",
        }
    )
    github = servers["github"]
    assert github.timeout == 10
    assert github.headers["X-Api-Key"].get_secret_value() == "s3cret"
    assert github.exposes_tool("search_code")
    assert github.exposes_tool("get_issue")
    assert not github.exposes_tool("delete_repo")
    assert set(servers) == {"github", "jira"}


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"MCPHUB_SERVER_GH__URL": "not a url"}, "MCPHUB_SERVER_GH__URL"),
        ({"MCPHUB_SERVER_GH__URL": "https://x/mcp", "MCPHUB_SERVER_GH__TIMEOT": "3"}, "MCPHUB_SERVER_GH__TIMEOT"),
        ({"MCPHUB_SERVER_GH__URL": "https://x/mcp", "MCPHUB_SERVER_GH__TIMEOUT": "-1"}, "MCPHUB_SERVER_GH__TIMEOUT"),
        ({"MCPHUB_SERVER_GH__TIMEOUT": "3"}, "MCPHUB_SERVER_GH__URL"),
        ({"MCPHUB_SERVER_GH__URL": "https://x/mcp", "MCPHUB_SERVER_gh__TIMEOUT": "3"}, "MCPHUB_SERVER_gh__TIMEOUT"),
        ({"MCPHUB_SERVER_G.H__URL": "https://x/mcp"}, "MCPHUB_SERVER_G.H__URL"),
        ({"MCPHUB_SERVER_GH": "https://x/mcp"}, "MCPHUB_SERVER_GH"),
    ],
    ids=["bad-url", "unknown-field", "negative-timeout", "missing-url", "duplicate-name", "bad-name", "no-field"],
)
def test_bad_settings_fail_fast_naming_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_servers(env)
    assert caught.value.message.startswith(variable)


def test_secret_values_never_appear_in_errors() -> None:
    with pytest.raises(ConfigError) as caught:
        load_servers({"MCPHUB_SERVER_GH__URL": "https://x/mcp", "MCPHUB_SERVER_GH__HEADERS__BAD NAME": "s3cret"})
    assert "s3cret" not in str(caught.value)


def test_two_servers_with_one_prefix_are_refused() -> None:
    with pytest.raises(ConfigError, match="share the tool prefix"):
        load_servers(
            {
                "MCPHUB_SERVER_A__URL": "https://x/mcp",
                "MCPHUB_SERVER_B__URL": "https://y/mcp",
                "MCPHUB_SERVER_B__PREFIX": "a",
            }
        )
