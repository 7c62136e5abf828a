"""What a literal `azd up` from bicep/README.md would deploy: names, sign-in settings, roles, commands.

Checked on the Bicep's syntax tree (tree-sitter) and the guide's text: the Bicep CLI and Azure are
not available here (README).
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from tests.unit.test_bicep import BICEP, load, text

ROOT = BICEP.parent

GUIDE = BICEP / "README.md"
GLOBAL_NAMES = ("Microsoft.KeyVault/vaults@", "Microsoft.DocumentDB/databaseAccounts@", "Microsoft.Web/sites@")


def setting(name: str) -> str:
    """The expression main.bicep gives the app setting `name`."""
    found = re.search(rf"^\s*{name}:\s*(.+)$", (BICEP / "main.bicep").read_text(), re.MULTILINE)
    assert found is not None, name
    return found.group(1)


def variable(name: str) -> str:
    found = re.search(rf"^var {name} = (.+)$", (BICEP / "main.bicep").read_text(), re.MULTILINE)
    assert found is not None, name
    return found.group(1)


def test_sign_in_tenants_are_never_empty_whatever_azd_passes() -> None:
    # azd sets no AZURE_TENANT_ID: main.parameters.json's ["${AZURE_TENANT_ID}"] arrives as [""].
    assert "signInTenants" in setting("MCPHUB_AUTH__TENANTS")
    assert "tenant().tenantId" in variable("signInTenants")
    assert "!empty(" in variable("namedTenants")


def test_audiences_are_the_client_id_and_app_id_uri_never_the_front_door_host() -> None:
    audiences = setting("MCPHUB_AUTH__AUDIENCES")
    assert "publicUrl" not in audiences
    assert "frontDoor" not in audiences
    assert audiences == "'${hubClientId},${appIdUri}'"
    assert "param appIdUri string = 'api://${hubClientId}'" in (BICEP / "main.bicep").read_text()


@pytest.mark.parametrize("path", sorted(BICEP.rglob("*.bicep")), ids=lambda p: p.name)
def test_globally_named_resources_carry_a_unique_suffix(path: Path) -> None:
    for resource in load(path).declarations("resource_declaration"):
        body = text(resource)
        if any(kind in body.splitlines()[0] for kind in GLOBAL_NAMES) and " existing" not in body.splitlines()[0]:
            name = re.search(r"^\s*name: (.+)$", body, re.MULTILINE)
            assert name is not None
            expression = name.group(1)
            if re.fullmatch(r"\w+", expression):  # a module parameter: what main.bicep passes for it
                passed = re.search(rf"^\s*{expression}: (\w+)\[i\]$", (BICEP / "main.bicep").read_text(), re.MULTILINE)
                assert passed is not None, f"{path.name}: {expression} is not passed by main.bicep"
                expression = variable(passed.group(1))
            assert "uniqueString(" in expression, f"{path.name}: {name.group(1)}"


def test_the_apps_identity_may_publish_telemetry() -> None:
    monitoring = (BICEP / "modules" / "monitoring.bicep").read_text()
    assert "3913510d-42f4-4e42-8a64-420c390055eb" in monitoring  # Monitoring Metrics Publisher
    assert re.search(r"scope: insights", monitoring)
    assert "publisherPrincipalId: identity.outputs.principalId" in (BICEP / "main.bicep").read_text()


def test_secrets_and_ids_azd_may_leave_empty_fail_the_deployment_not_the_requests() -> None:
    main = (BICEP / "main.bicep").read_text()
    for param, length in (("hubClientId", 36), ("vaultKeys", 44), ("hubClientSecret", 1)):
        assert re.search(rf"@minLength\({length}\)\s*\nparam {param} string", main), param


def guide_commands() -> list[list[str]]:
    blocks = re.findall(r"```(?:sh|bash)\n(.*?)```", GUIDE.read_text(), re.DOTALL)
    lines = [line.split("#")[0].strip() for block in blocks for line in block.replace("\\\n", " ").splitlines()]
    return [shlex.split(line) for line in lines if line]


def test_every_azd_env_set_in_the_guide_is_one_that_azd_accepts() -> None:
    sets = [argv for argv in guide_commands() if argv[:3] == ["azd", "env", "set"]]
    assert sets, "the guide sets the azd environment"
    for argv in sets:
        pairs = argv[3:]
        # azd env set KEY VALUE, or azd env set KEY=VALUE [KEY=VALUE ...]; never KEY1 VALUE1 KEY2 VALUE2.
        assert (len(pairs) == 2 and "=" not in pairs[0]) or all("=" in pair for pair in pairs), argv


def test_with_the_controller_applying_a_deployment_keeps_the_flex_settings_it_set() -> None:
    """azd's preprovision hook reads the live settings into MCPHUB_LIVE_SCALE, the parameters file
    hands it to liveScale, and each app deploys it instead of the parameters, in apply mode only."""
    azure = (ROOT / "azure.yaml").read_text()
    assert "run: python3 bicep/live_scale.py" in azure
    assert "run: python bicep/live_scale.py" in azure
    parameters = json.loads((BICEP / "main.parameters.json").read_text())["parameters"]
    assert parameters["liveScale"] == {"value": "${MCPHUB_LIVE_SCALE}"}
    main = (BICEP / "main.bicep").read_text()
    for value, part in (("alwaysReady", 0), ("maximumInstances", 1)):
        live = f"int(live[appNames[i]][{part}])"
        assert f"{value}: capacityMode == 'apply' && contains(live, appNames[i]) ? {live} : {value}" in main
    # live_scale.py writes "<app>=<ready>/<maximum>,..."; main.bicep splits on ',' then '=' then '/'.
    assert "split(liveScale, ',')" in variable("live")
    assert "split(split(entry, '=')[1], '/')" in variable("live")
    assert setting("MCPHUB_SCALING__MODE") == "capacityMode"
    assert "resourceId('Microsoft.Web/sites', appNames[i])" in setting("MCPHUB_SCALING__SITES")
