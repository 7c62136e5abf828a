"""The Bicep cannot be compiled here (no Bicep CLI): every file is parsed with tree-sitter-bicep and
checked for what breaks deployments — parse errors, unused or missing parameters, module
parameters that do not exist, API versions outside the allow-list, role assignments without a
scope, secrets in outputs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import tree_sitter_bicep
from tree_sitter import Language, Node, Parser

BICEP = Path(__file__).resolve().parents[2] / "bicep"
FILES = sorted(BICEP.rglob("*.bicep"))
PARSER = Parser(Language(tree_sitter_bicep.language()))

# Versions this project has checked against the ARM reference; a new one is a deliberate change.
API_VERSIONS = {
    "Microsoft.App/containerApps": {"2025-07-01"},
    "Microsoft.App/managedEnvironments": {"2025-07-01"},
    "Microsoft.ContainerRegistry/registries": {"2023-07-01"},
    "Microsoft.Authorization/roleAssignments": {"2022-04-01"},
    "Microsoft.Cdn/profiles": {"2024-02-01"},
    "Microsoft.Cdn/profiles/afdEndpoints": {"2024-02-01"},
    "Microsoft.Cdn/profiles/afdEndpoints/routes": {"2024-02-01"},
    "Microsoft.Cdn/profiles/originGroups": {"2024-02-01"},
    "Microsoft.Cdn/profiles/originGroups/origins": {"2024-02-01"},
    "Microsoft.Cdn/profiles/securityPolicies": {"2024-02-01"},
    "Microsoft.DocumentDB/databaseAccounts": {"2024-05-15"},
    "Microsoft.DocumentDB/databaseAccounts/tables": {"2024-05-15"},
    "Microsoft.Insights/components": {"2020-02-02"},
    "Microsoft.KeyVault/vaults": {"2023-07-01"},
    "Microsoft.KeyVault/vaults/secrets": {"2023-07-01"},
    "Microsoft.ManagedIdentity/userAssignedIdentities": {"2023-01-31"},
    "Microsoft.Network/FrontDoorWebApplicationFirewallPolicies": {"2022-05-01"},
    "Microsoft.Network/privateDnsZones": {"2020-06-01"},
    "Microsoft.Network/privateDnsZones/A": {"2020-06-01"},
    "Microsoft.Network/privateDnsZones/virtualNetworkLinks": {"2020-06-01"},
    "Microsoft.Network/privateEndpoints": {"2023-11-01"},
    "Microsoft.Network/privateEndpoints/privateDnsZoneGroups": {"2023-11-01"},
    "Microsoft.Network/virtualNetworks": {"2023-11-01"},
    "Microsoft.OperationalInsights/workspaces": {"2023-09-01"},
    "Microsoft.Storage/storageAccounts": {"2023-05-01"},
    "Microsoft.Storage/storageAccounts/blobServices": {"2023-05-01"},
    "Microsoft.Storage/storageAccounts/blobServices/containers": {"2023-05-01"},
    "Microsoft.Web/serverfarms": {"2024-04-01"},
    "Microsoft.Web/sites": {"2024-04-01"},
}


@dataclass
class Param:
    name: str
    secure: bool
    optional: bool


@dataclass
class Template:
    path: Path
    root: Node
    params: dict[str, Param] = field(default_factory=dict[str, Param])

    def declarations(self, kind: str) -> list[Node]:
        return [child for child in self.root.children if child.type == kind]


def text(node: Node | None) -> str:
    return node.text.decode() if node is not None and node.text is not None else ""


def load(path: Path) -> Template:
    template = Template(path, PARSER.parse(path.read_bytes()).root_node)
    decorators = ""
    for child in template.root.children:
        if child.type == "decorators":
            decorators = text(child)
            continue
        if child.type == "parameter_declaration":
            name = text(next(c for c in child.children if c.type == "identifier"))
            template.params[name] = Param(name, "@secure()" in decorators, any(c.type == "=" for c in child.children))
        decorators = ""
    return template


def identifiers(node: Node) -> list[str]:
    found = [text(node)] if node.type == "identifier" else []
    for child in node.children:
        found.extend(identifiers(child))
    return found


def errors(node: Node) -> list[str]:
    found = [f"line {node.start_point[0] + 1}: {node.type}"] if node.type == "ERROR" or node.is_missing else []
    for child in node.children:
        found.extend(errors(child))
    return found


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(BICEP)))
def test_every_bicep_file_parses_without_errors(path: Path) -> None:
    assert errors(load(path).root) == []


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(BICEP)))
def test_every_parameter_is_used(path: Path) -> None:
    template = load(path)
    used = identifiers(template.root)
    unused = [name for name in template.params if used.count(name) < 2]  # the declaration is one
    assert unused == []


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(BICEP)))
def test_every_resource_uses_an_allowed_api_version(path: Path) -> None:
    for resource in load(path).declarations("resource_declaration"):
        kind, _, version = next(text(c) for c in resource.children if c.type == "string").strip("'").partition("@")
        assert version in API_VERSIONS.get(kind, set()), f"{kind}@{version} is not on the allow-list"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(BICEP)))
def test_role_assignments_name_their_scope_and_principal_type(path: Path) -> None:
    for resource in load(path).declarations("resource_declaration"):
        body = text(resource)
        if "Microsoft.Authorization/roleAssignments" in body:
            assert re.search(r"^\s*scope:", body, re.MULTILINE), f"no scope: {body[:80]}"
            assert "principalType:" in body


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(BICEP)))
def test_no_output_carries_a_secret(path: Path) -> None:
    template = load(path)
    secure = {name for name, param in template.params.items() if param.secure}
    for output in template.declarations("output_declaration"):
        body = text(output)
        assert "listKeys" not in body
        assert not re.search(r"\blist\w*\(", body)
        assert not secure & set(identifiers(output)), f"secure parameter in output: {body[:80]}"
        assert not re.search(r"(secret|password|key)\w*\s+string", body.split("=")[0], re.IGNORECASE) or (
            "Reference" in body.split("=")[0]
        )


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(BICEP)))
def test_modules_get_exactly_the_parameters_they_declare(path: Path) -> None:
    template = load(path)
    for module in template.declarations("module_declaration"):
        target = load(path.parent / next(text(c) for c in module.children if c.type == "string").strip("'"))
        params = _module_params(module)
        assert params, f"module {text(module)[:40]} passes no params"
        assert params <= set(target.params), f"unknown params {params - set(target.params)} for {target.path.name}"
        required = {name for name, param in target.params.items() if not param.optional}
        assert required <= params, f"missing params {required - params} for {target.path.name}"


def _module_params(module: Node) -> set[str]:
    def find(node: Node) -> Node | None:
        if node.type == "object_property" and node.children and text(node.children[0]) == "params":
            return node
        for child in node.children:
            found = find(child)
            if found is not None:
                return found
        return None

    prop = find(module)
    value = next((c for c in prop.children if c.type == "object"), None) if prop is not None else None
    if value is None:
        return set()
    return {text(c.children[0]) for c in value.children if c.type == "object_property"}


def test_the_whole_deployment_is_covered() -> None:
    names = {path.name for path in FILES}
    assert {"main.bicep", "functionapp.bicep", "frontdoor.bicep", "sessionstore.bicep", "keyvault.bicep"} <= names
    main = load(BICEP / "main.bicep")
    outputs = {
        text(next(c for c in o.children if c.type == "identifier")) for o in main.declarations("output_declaration")
    }
    assert {"mcpUrl", "frontDoorEndpoint"} <= outputs
