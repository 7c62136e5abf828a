"""Stdio server declarations (shared/stdio.py): bad ones are refused at start, naming the variable."""

from __future__ import annotations

import pytest

from shared.errors import ConfigError
from shared.settings import load_servers
from shared.stdio import hub_settings, load_stdio_servers

MEMORY = {"MCPHUB_STDIO_MEMORY__PACKAGE": "@modelcontextprotocol/server-memory@2026.8.31"}


def refusal(environ: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as refused:
        load_stdio_servers(environ)
    return str(refused.value)


def test_a_pinned_npm_package_runs_with_npx_and_its_args() -> None:
    [server] = load_stdio_servers({**MEMORY, "MCPHUB_STDIO_MEMORY__ARGS": '["--flag", "a,b"]'}).values()
    assert server.server_argv() == ["npx", "-y", "@modelcontextprotocol/server-memory@2026.8.31", "--flag", "a,b"]


def test_a_pinned_pypi_package_runs_with_uvx() -> None:
    environ = {"MCPHUB_STDIO_TIME__PACKAGE": "mcp-server-time==2026.10.19", "MCPHUB_STDIO_TIME__RUNNER": "uvx"}
    assert load_stdio_servers(environ)["time"].server_argv() == ["uvx", "mcp-server-time==2026.10.19"]


def test_an_entry_with_neither_package_nor_image_is_refused_naming_the_setting() -> None:
    said = refusal({"MCPHUB_STDIO_GITHUB__ARGS": '["stdio"]'})
    assert said.startswith("MCPHUB_STDIO_GITHUB__PACKAGE: a stdio server needs PACKAGE")
    assert "IMAGE" in said


def test_an_unpinned_package_is_refused() -> None:
    assert "pin the npm version" in refusal({"MCPHUB_STDIO_MEMORY__PACKAGE": "@modelcontextprotocol/server-memory"})


def test_a_stdio_server_named_like_an_http_server_is_refused_naming_both() -> None:
    said = refusal({**MEMORY, "MCPHUB_SERVER_MEMORY__URL": "https://memory.example.com/mcp"})
    assert said.startswith("MCPHUB_STDIO_MEMORY__PACKAGE: stdio server 'memory' has the name of the HTTP server")
    assert "MCPHUB_SERVER_MEMORY__URL" in said


def test_more_replicas_than_one_need_a_server_that_keeps_no_state() -> None:
    said = refusal({**MEMORY, "MCPHUB_STDIO_MEMORY__REPLICAS": "3"})
    assert said.startswith("MCPHUB_STDIO_MEMORY__REPLICAS: ")
    assert "STATELESS=true" in said
    stateless = {**MEMORY, "MCPHUB_STDIO_MEMORY__REPLICAS": "3", "MCPHUB_STDIO_MEMORY__STATELESS": "true"}
    assert load_stdio_servers(stateless)["memory"].replicas == 3


def test_scaling_to_zero_needs_a_server_that_keeps_no_state() -> None:
    said = refusal({**MEMORY, "MCPHUB_STDIO_MEMORY__SCALE_TO_ZERO": "true"})
    assert said.startswith("MCPHUB_STDIO_MEMORY__SCALE_TO_ZERO: ")


def test_sizes_are_container_apps_pairs() -> None:
    said = refusal({**MEMORY, "MCPHUB_STDIO_MEMORY__CPU": "1"})
    assert said.startswith("MCPHUB_STDIO_MEMORY__MEMORY: CPU/MEMORY 1/1Gi is not a Container Apps size")


def test_args_must_be_a_json_array() -> None:
    said = refusal({**MEMORY, "MCPHUB_STDIO_MEMORY__ARGS": "/srv/files,--read-only"})
    assert said.startswith("MCPHUB_STDIO_MEMORY__ARGS: must be a JSON array")


def test_a_variable_in_both_env_and_secrets_is_refused() -> None:
    environ = {**MEMORY, "MCPHUB_STDIO_MEMORY__ENV__TOKEN": "x", "MCPHUB_STDIO_MEMORY__SECRETS__TOKEN": "kv-token"}
    assert refusal(environ).startswith("MCPHUB_STDIO_MEMORY__SECRETS__TOKEN: ['TOKEN'] set both")


def test_the_hub_reaches_a_stdio_server_as_an_http_upstream_with_the_bridge_key() -> None:
    [server] = load_servers(hub_settings("memory", "http://127.0.0.1:9/mcp", "bridge-key")).values()
    assert str(server.url) == "http://127.0.0.1:9/mcp"
    assert server.stdio
    assert server.headers["X-Api-Key"].get_secret_value() == "bridge-key"


@pytest.mark.parametrize("auth", ["user_token", "user_oauth", "obo"])
def test_per_user_credentials_are_refused_for_a_stdio_server_at_start(auth: str) -> None:
    environ = {
        **hub_settings("github", "http://127.0.0.1:9/mcp", "k"),
        "MCPHUB_SERVER_GITHUB__AUTH": auth,
        "MCPHUB_SERVER_GITHUB__SCOPE": "api://x/.default",
        "MCPHUB_SERVER_GITHUB__OAUTH_AUTHORIZE_URL": "https://example.com/authorize",
        "MCPHUB_SERVER_GITHUB__OAUTH_TOKEN_URL": "https://example.com/token",
        "MCPHUB_SERVER_GITHUB__OAUTH_CLIENT_ID": "client",
    }
    with pytest.raises(ConfigError) as refused:
        load_servers(environ)
    said = str(refused.value)
    assert said.startswith(f"MCPHUB_SERVER_GITHUB__AUTH: auth={auth} cannot reach a stdio server")
    assert "one credential" in said
