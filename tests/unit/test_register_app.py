"""bicep/register_app.py against a recording stand-in `az` on PATH: idempotent, never replaces a secret.

Every call it makes is also parsed by the real Azure CLI's argument definitions (azure-cli from
PyPI, in its own virtual environment: `make deps` builds it), so a misspelled flag fails here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.processes import ROOT

SCRIPT = ROOT / "bicep" / "register_app.py"
FAKE = ROOT / "tests" / "fixtures" / "fake_az" / "az.py"
AZ_PYTHON = ROOT / ".venv-azcli" / "bin" / "python"
PARSE = ROOT / "tests" / "tools" / "az_parse.py"


class Directory:
    """The stand-in tenant: its state and every az call made against it."""

    def __init__(self, folder: Path) -> None:
        self.state, self.log = folder / "state.json", folder / "calls.jsonl"
        bin_dir = folder / "bin"
        bin_dir.mkdir()
        az = bin_dir / "az"
        az.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" "$@"\n')
        az.chmod(0o755)
        self.env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_AZ_STATE": str(self.state)}
        self.env["FAKE_AZ_LOG"] = str(self.log)

    def register(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=self.env, check=False
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def calls(self) -> list[list[str]]:
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def app(self) -> dict[str, Any]:
        (app,) = json.loads(self.state.read_text())["apps"]
        return app


@pytest.fixture
def directory(tmp_path: Path) -> Directory:
    return Directory(tmp_path)


def parse(calls: list[list[str]], home: Path) -> subprocess.CompletedProcess[str]:
    """The calls through the real CLI's parser; its configuration kept in `home`, away from ~/.azure."""
    assert AZ_PYTHON.exists(), "the Azure CLI's environment is missing: `make deps` (or `make test`) builds it"
    env = {**os.environ, "AZURE_CONFIG_DIR": str(home / "azure"), "AZURE_CORE_COLLECT_TELEMETRY": "false"}
    argv = [str(AZ_PYTHON), str(PARSE)]
    return subprocess.run(
        argv, input=json.dumps(calls), capture_output=True, text=True, check=False, timeout=300, env=env
    )


def commands(calls: list[list[str]]) -> list[str]:
    return [" ".join(w for w in call if not w.startswith("-"))[:40] for call in calls]


def test_first_run_registers_everything_the_hub_needs(directory: Directory) -> None:
    line = directory.register()
    app = directory.app()
    assert (
        line == f"azd env set MCPHUB_CLIENT_ID={app['appId']} MCPHUB_CLIENT_SECRET={app['credentials'][0]['password']}"
    )
    assert app["identifierUris"] == [f"api://{app['appId']}"]
    assert app["api"]["requestedAccessTokenVersion"] == 2
    (scope,) = app["api"]["oauth2PermissionScopes"]
    assert scope["value"] == "MCP.Access"
    assert app["api"]["preAuthorizedApplications"] == [
        {"appId": "aebc6443-996d-45c2-90f0-388ff96faa56", "delegatedPermissionIds": [scope["id"]]}
    ]
    assert {role["value"] for role in app["appRoles"]} == {"Hub.Admin", "Hub.Operator", "Hub.User", "Hub.AllTenants"}
    assert len(json.loads(directory.state.read_text())["sps"]) == 1


def test_a_rerun_changes_nothing_but_what_is_new_and_keeps_the_secret(directory: Directory) -> None:
    directory.register()
    first = directory.app()
    before = len(directory.calls())
    line = directory.register("--endpoint", "ep-mcphub.z01.azurefd.net")
    again = directory.app()
    rerun = commands(directory.calls()[before:])
    assert not any(c.startswith(("ad app create", "ad sp create", "ad app credential reset")) for c in rerun), rerun
    assert line == f"azd env set MCPHUB_CLIENT_ID={first['appId']}"
    assert again["credentials"] == first["credentials"]
    assert again["api"]["oauth2PermissionScopes"] == first["api"]["oauth2PermissionScopes"]  # same scope ID
    assert [r["id"] for r in again["appRoles"]] == [r["id"] for r in first["appRoles"]]
    assert again["web"]["redirectUris"] == ["https://ep-mcphub.z01.azurefd.net/oauth/callback"]
    directory.register("--endpoint", "ep-mcphub.z01.azurefd.net")
    assert directory.app()["web"]["redirectUris"] == ["https://ep-mcphub.z01.azurefd.net/oauth/callback"]


def test_rotating_the_secret_adds_one_and_keeps_the_one_in_key_vault(directory: Directory) -> None:
    directory.register()
    kept = directory.app()["credentials"][0]
    line = directory.register("--rotate-secret")
    credentials = directory.app()["credentials"]
    assert credentials[0] == kept
    assert len(credentials) == 2
    assert line.endswith(f"MCPHUB_CLIENT_SECRET={credentials[1]['password']}")


def test_every_az_call_is_one_the_real_cli_accepts(directory: Directory) -> None:
    directory.register()
    directory.register("--endpoint", "ep.example.net", "--rotate-secret")
    calls = directory.calls()
    assert len(calls) >= 10
    done = parse(calls, directory.state.parent)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert json.loads(done.stdout) == {"parsed": len(calls), "refused": []}


def test_a_misspelled_flag_is_refused_by_the_real_cli_definitions(tmp_path: Path) -> None:
    calls = [["ad", "app", "credential", "reset", "--id", "x", "--apend"], ["ad", "app", "list", "--display-name", "x"]]
    done = parse(calls, tmp_path)
    assert done.returncode == 1
    refused = json.loads(done.stdout)["refused"]
    assert [r["argv"] for r in refused] == [calls[0]]
