"""bicep/live_scale.py (azd's preprovision hook) against the recording stand-in `az` and a recording
`azd` on PATH: it reads each Flex app's settings and hands them to the next deployment.

Its az calls are also parsed by the real Azure CLI's argument definitions (as for register_app)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.processes import ROOT
from tests.unit.test_register_app import FAKE, parse

SCRIPT = ROOT / "bicep" / "live_scale.py"


class Azure:
    def __init__(self, folder: Path, groups: dict[str, dict[str, Any]]) -> None:
        self.state, self.log, self.azd = folder / "state.json", folder / "calls.jsonl", folder / "azd.jsonl"
        self.state.write_text(json.dumps({"apps": [], "sps": [], "groups": groups}))
        bin_dir = folder / "bin"
        bin_dir.mkdir()
        (bin_dir / "az").write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" "$@"\n')
        recorder = f"import json,sys; open({str(self.azd)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')"
        (bin_dir / "azd").write_text(f'#!/bin/sh\nexec "{sys.executable}" -c "{recorder}" "$@"\n')
        for tool in ("az", "azd"):
            (bin_dir / tool).chmod(0o755)
        self.env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_AZ_STATE": str(self.state)}
        self.env["FAKE_AZ_LOG"] = str(self.log)

    def run(self, group: str | None) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in self.env.items() if k != "AZURE_RESOURCE_GROUP"}
        if group is not None:
            env["AZURE_RESOURCE_GROUP"] = group
        done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, env=env, check=False)
        assert done.returncode == 0, done.stderr
        return done

    def azd_calls(self) -> list[list[str]]:
        return [json.loads(line) for line in self.azd.read_text().splitlines()] if self.azd.exists() else []

    def az_calls(self) -> list[list[str]]:
        return [json.loads(line) for line in self.log.read_text().splitlines()] if self.log.exists() else []


def flex(ready: int | None, maximum: int) -> dict[str, Any]:
    groups = [{"name": "http", "instanceCount": ready}] if ready is not None else []
    return {"alwaysReady": groups, "maximumInstanceCount": maximum, "instanceMemoryMB": 2048}


def test_the_live_settings_of_each_flex_app_go_to_the_next_deployment(tmp_path: Path) -> None:
    apps = {"func-mcphub-weu-abc": flex(4, 120), "func-mcphub-neu-def": flex(None, 60), "func-legacy": {}}
    azure = Azure(tmp_path, {"rg-mcphub": apps})
    azure.run("rg-mcphub")
    assert azure.azd_calls() == [
        ["env", "set", "MCPHUB_LIVE_SCALE", "func-mcphub-neu-def=0/60,func-mcphub-weu-abc=4/120"]
    ]


def test_a_first_deployment_records_nothing_and_bicep_parameters_apply(tmp_path: Path) -> None:
    azure = Azure(tmp_path, {})
    assert "could not" not in azure.run("rg-new").stderr
    assert azure.azd_calls() == [["env", "set", "MCPHUB_LIVE_SCALE", ""]]
    assert "nothing deployed yet" in azure.run(None).stdout


@pytest.mark.integration
def test_every_az_call_it_makes_parses_with_the_real_cli(tmp_path: Path) -> None:
    azure = Azure(tmp_path, {"rg-mcphub": {"func-a": flex(1, 100)}})
    azure.run("rg-mcphub")
    calls = azure.az_calls()
    assert len(calls) == 2
    done = parse(calls, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
