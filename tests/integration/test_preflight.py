"""`make preflight`: the deployment against Azure's own artefacts, and a deliberate mistake of each kind.

The package check (a secret in the zip) is in tests/unit/test_package_contents.py and
tests/integration/test_package_runs_alone.py.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from infra.preflight import bicep, checks, stdio
from infra.preflight.__main__ import main as preflight
from infra.processes import ROOT

pytestmark = [pytest.mark.integration]
BICEP = ROOT / "bicep"


def test_the_real_worker_indexes_every_function_and_no_routes_overlap() -> None:
    functions, problems = checks.worker_index()
    assert problems == []
    names = {f["name"] for f in functions}
    assert {"mcp", "mcp_server", "connect_callback", "rotate_signing_keys"} <= names
    assert len(functions) >= 30


@pytest.mark.parametrize(
    ("document", "schema"), [("host.json", "host.schema.json"), ("azure.yaml", "azure.yaml.schema.json")]
)
def test_host_json_and_azure_yaml_follow_their_official_schemas(document: str, schema: str) -> None:
    assert checks.schema(ROOT / document, schema) == []


def test_every_bicep_resource_type_version_and_property_exists_in_azures_definitions() -> None:
    assert bicep.check(sorted(BICEP.rglob("*.bicep"))) == []


def test_a_shadowed_route_fails_with_both_functions_named(tmp_path: Path) -> None:
    (tmp_path / "function_app.py").write_text(
        textwrap.dedent(
            """
            import azure.functions as func

            app = func.FunctionApp()

            @app.route(route="connect/{server}", methods=["GET"])
            def page(req: func.HttpRequest) -> func.HttpResponse:
                return func.HttpResponse("page")

            @app.route(route="connect/callback", methods=["GET"])
            def callback(req: func.HttpRequest) -> func.HttpResponse:
                return func.HttpResponse("callback")
            """
        )
    )
    _, problems = checks.worker_index(tmp_path)
    assert len(problems) == 1
    assert "page ('connect/{server}')" in problems[0]
    assert "callback ('connect/callback')" in problems[0]


def test_a_function_the_worker_cannot_bind_fails_with_the_workers_reason(tmp_path: Path) -> None:
    (tmp_path / "function_app.py").write_text(
        textwrap.dedent(
            """
            import azure.functions as func

            app = func.FunctionApp()

            @app.route(route="x")
            def handler(request: func.HttpRequest) -> func.HttpResponse:  # the binding is named "req"
                return func.HttpResponse("x")
            """
        )
    )
    functions, problems = checks.worker_index(tmp_path)
    assert functions == []
    assert problems
    assert "could not index" in problems[0]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"logging": {"logLevel": {"default": "Loud"}}}, "logging/logLevel/default: 'Loud' is not one of"),
        ({"extensionBundle": {"id": 5}}, "extensionBundle/id: 5 is not of type 'string'"),
        ({"bogusKey": 1}, "'bogusKey'"),
    ],
)
def test_a_bad_host_json_fails_naming_the_key(tmp_path: Path, change: dict[str, object], expected: str) -> None:
    host = tmp_path / "host.json"
    host.write_text(json.dumps({**json.loads((ROOT / "host.json").read_text()), **change}))
    problems = checks.schema(host, "host.schema.json")
    assert problems
    assert expected in problems[0]


def test_a_bad_azure_yaml_fails(tmp_path: Path) -> None:
    manifest = tmp_path / "azure.yaml"
    manifest.write_text((ROOT / "azure.yaml").read_text().replace("name: mcphub", "name: MCP Hub"))
    assert checks.schema(manifest, "azure.yaml.schema.json")[0].startswith("azure.yaml: name: 'MCP Hub' does not match")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "    enableRbacAuthorization: true\n",
            "    enableRbacAuthorisation: true\n",
            ".properties.enableRbacAuthorisation is not a property",
        ),
        (
            "Microsoft.KeyVault/vaults@2023-07-01",
            "Microsoft.KeyVault/vaults@2023-07-02",
            "no such resource type and API version",
        ),
    ],
)
def test_a_bicep_mistake_fails_naming_file_line_and_property(tmp_path: Path, old: str, new: str, expected: str) -> None:
    original = (BICEP / "modules" / "keyvault.bicep").read_text()
    assert old in original
    changed = tmp_path / "keyvault.bicep"
    changed.write_text(original.replace(old, new, 1))
    problems = bicep.check([changed])
    assert len(problems) == 1
    assert problems[0].startswith("keyvault.bicep:")
    assert expected in problems[0]


def test_a_misspelled_property_inside_a_property_loop_is_found(tmp_path: Path) -> None:
    """`secrets: [for ...: {...}]`: each item is checked against the array's item type (before this,
    for-expressions as property values were skipped)."""
    original = (BICEP / "modules" / "stdio-server.bicep").read_text()
    old = "        keyVaultUrl: secrets[i].properties.secretUri\n"
    assert old in original
    changed = tmp_path / "stdio-server.bicep"
    changed.write_text(original.replace(old, old.replace("keyVaultUrl", "keyVaultUri"), 1))
    [problem] = bicep.check([changed])
    assert problem.startswith("stdio-server.bicep:")
    assert ".properties.configuration.secrets[].keyVaultUri is not a property" in problem


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_make_preflight_passes_as_it_is() -> None:
    assert preflight() == 0


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"name": "memory", "args": ["stdio"]}, "stdioServers[0] (memory): package: a stdio server needs PACKAGE"),
        (
            {"name": "notes", "package": "x@1"},
            "stdioServers[0] (notes): serverSettings already has MCPHUB_SERVER_NOTES__URL",
        ),
        ({"name": "memory", "package": "x@1", "scaleToZero": True}, "stdioServers[0] (memory): scaleToZero: "),
        ({"name": "memory", "package": "x@1", "secret": {}}, "stdioServers[0] (memory): secret: unknown field"),
    ],
)
def test_a_bad_stdio_server_entry_fails_naming_the_entry_and_field(
    tmp_path: Path, entry: dict[str, object], expected: str
) -> None:
    parameters = json.loads((BICEP / "main.parameters.json").read_text())
    parameters["parameters"]["stdioServers"] = {"value": [entry]}
    parameters["parameters"]["serverSettings"] = {"value": {"MCPHUB_SERVER_NOTES__URL": "https://notes.example.com"}}
    changed = tmp_path / "main.parameters.json"
    changed.write_text(json.dumps(parameters))
    [problem] = stdio.check(changed)
    assert problem.startswith(f"main.parameters.json: {expected}")


def test_the_shipped_parameters_and_a_complete_stdio_entry_pass(tmp_path: Path) -> None:
    assert stdio.check(BICEP / "main.parameters.json") == []
    parameters = json.loads((BICEP / "main.parameters.json").read_text())
    entry = {"name": "time", "package": "mcp-server-time==2026.10.19", "runner": "uvx", "secrets": {"TZ_KEY": "tz"}}
    parameters["parameters"]["stdioServers"] = {"value": [entry]}
    changed = tmp_path / "main.parameters.json"
    changed.write_text(json.dumps(parameters))
    assert stdio.check(changed) == []
