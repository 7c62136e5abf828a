"""The stdio servers' Bicep (modules/stdio.bicep, stdio-server.bicep), read on its syntax tree and
text: reachable only by the hub, secrets only from Key Vault, bad entries stopped at deployment.
(The Bicep CLI cannot run here; `make preflight` checks its types against Azure's definitions.)"""

from __future__ import annotations

import re

from tests.unit.test_bicep import BICEP, load, text

MODULE = (BICEP / "modules" / "stdio.bicep").read_text()
SERVER = (BICEP / "modules" / "stdio-server.bicep").read_text()
MAIN = (BICEP / "main.bicep").read_text()


def test_the_environment_is_internal_to_the_vnet_in_the_private_deployment() -> None:
    assert "var internal = !empty(subnetId)" in MODULE
    assert "vnetConfiguration: internal ? { infrastructureSubnetId: subnetId, internal: true } : null" in MODULE
    # The Function App resolves the internal apps through a private zone linked to its VNet.
    assert "name: environment.properties.defaultDomain" in MODULE
    assert "ipv4Address: environment.properties.staticIp" in MODULE
    assert "stdioSubnetId" in MAIN
    network = (BICEP / "modules" / "network.bicep").read_text()
    assert "name: 'stdio'" in network
    assert "serviceName: 'Microsoft.App/environments'" in network


def test_every_bridge_requires_the_key_from_key_vault_and_takes_no_plain_http() -> None:
    assert "{ name: 'MCP_PROXY_API_KEY', secretRef: 'bridge-key' }" in SERVER
    assert "keyVaultUrl: secrets[i].properties.secretUri" in SERVER
    assert "allowInsecure: false" in SERVER
    assert re.search(r"__HEADERS__X_API_KEY': '@Microsoft\.KeyVault\(SecretUri=", SERVER)
    assert "param bridgeKey string" in (BICEP / "modules" / "keyvault.bicep").read_text()


def test_server_secrets_are_key_vault_references_whose_absence_fails_the_deployment() -> None:
    template = load(BICEP / "modules" / "stdio-server.bicep")
    declarations = [text(d) for d in template.declarations("resource_declaration")]
    [looked_up] = [d for d in declarations if d.startswith("resource secrets ")]
    assert " existing = [for entry in keyVaultSecrets:" in looked_up
    assert "secretRef: 'env-${i}'" in SERVER
    assert "value: entry.value" not in SERVER.split("var secretEnv")[1].split("\n")[0]


def test_bad_entries_fail_the_deployment_naming_the_entry() -> None:
    assert 'fail(\'stdioServers entry "${server.name}": give package' in SERVER
    assert 'fail(\'stdioServers entry "${server.name}": replicas > 1 or scaleToZero' in SERVER
    assert 'fail(\'stdioServers entry "${server.name}": serverSettings already has' in MAIN
    assert "stdio servers need the bridgeKey and bridgeRegistry parameters" in MAIN


def test_a_stateful_server_keeps_one_replica_and_never_scales_to_zero_by_default() -> None:
    assert "var replicas = server.?replicas ?? 1" in SERVER
    assert "var scaleToZero = server.?scaleToZero ?? false" in SERVER
    assert "scale: { minReplicas: scaleToZero ? 0 : checkedReplicas, maxReplicas: checkedReplicas }" in SERVER


def test_each_regions_hub_reaches_its_own_regions_stdio_servers() -> None:
    assert "stdioServersInRegion[i].outputs.serverSettings" in MAIN
    assert "module stdioServersInRegion 'modules/stdio.bicep' = [for (region, i) in regions:" in MAIN


def test_the_bridge_image_pins_the_bridge_that_the_local_run_uses() -> None:
    dockerfile = (BICEP / "bridge" / "Dockerfile").read_text()
    package = (BICEP.parent / "package.json").read_text()
    [pinned] = re.findall(r"mcp-proxy@([0-9.]+)", dockerfile)
    assert f'"mcp-proxy": "{pinned}"' in package
    assert f"mcphub-bridge:{pinned}" in MAIN
    assert 'ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/mcphub-bridge"]' in dockerfile


def test_each_server_has_an_identity_of_its_own_that_reads_only_its_own_secrets() -> None:
    """A stdio server runs third-party code that can ask the platform for its identity's tokens: it
    must not hold the hub's identity (session store, vault keys, Front Door)."""
    assert "identity.outputs" not in MAIN.split("module stdioServersInRegion")[1].split("\n}]")[0]
    assert "userAssignedIdentities: { '${identity.id}': {} }" in SERVER
    roles = re.findall(r"roleDefinitionId: subscriptionResourceId\('[^']+', (\w+)\)", SERVER)
    assert sorted(roles) == ["acrPull", "secretsUser"]
    assert "scope: secrets[i]" in SERVER  # each secret, not the vault
    assert "scope: vault" not in SERVER
