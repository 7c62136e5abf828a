// One stdio server as a container app: the bridge image (or the entry's own image, built FROM it)
// running entrypoint.sh with the server's command line, its environment from plain values and Key
// Vault secrets, and the bridge key. Sessions: the bridge keeps none (stateless HTTP), so any hub
// instance reaches any replica; each replica has its own stdio process, so a stateful server keeps
// one replica and never scales to zero (shared/stdio.py refuses otherwise, as does this module).
param server object
param location string
param environmentId string
param vaultName string
param bridgeKeySecretName string
param registryName string
param bridgeImage string

var serverName = toLower(replace(server.name, '_', '-'))
var runner = server.?runner ?? 'npx'
var command = server.?package != null
  ? (runner == 'npx' ? [ 'npx', '-y', server.package ] : [ 'uvx', server.package ])
  : (server.?image != null
      ? (server.?command != null ? [ server.command ] : [])
      : fail('stdioServers entry "${server.name}": give package (an npm or PyPI package, version pinned) or image (built FROM the bridge image); neither is set'))
var stateless = server.?stateless ?? false
var replicas = server.?replicas ?? 1
var scaleToZero = server.?scaleToZero ?? false
var checkedReplicas = (replicas > 1 || scaleToZero) && !stateless
  ? fail('stdioServers entry "${server.name}": replicas > 1 or scaleToZero give each replica its own process and state; set stateless: true only if the server keeps none')
  : replicas
var plainEnv = [for entry in items(server.?env ?? {}): { name: entry.key, value: string(entry.value) }]
var secretEnv = [for (entry, i) in items(server.?secrets ?? {}): { name: entry.key, secretRef: 'env-${i}' }]
var secretNames = [for (entry, i) in items(server.?secrets ?? {}): { name: 'env-${i}', secret: entry.value }]
var keyVaultSecrets = concat([ { name: 'bridge-key', secret: bridgeKeySecretName } ], secretNames)
var fixedEnv = [
  { name: 'MCP_PROXY_API_KEY', secretRef: 'bridge-key' }
  { name: 'MCPHUB_STDIO_NAME', value: server.name }
  { name: 'PORT', value: '8080' }
]

var acrPull = '7f951dda-4ed3-4680-a7ca-43fe172d538d' // AcrPull
var secretsUser = '4633458b-17de-408a-b874-0445c86b69e6' // Key Vault Secrets User

// An identity of its own: a stdio server runs third-party code, which may ask the platform for
// its identity's tokens. It may pull the bridge image and read its own secrets, nothing else
// (not the hub's session store, vault keys or Front Door, nor another server's secrets).
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: take('id-stdio-${serverName}-${uniqueString(environmentId)}', 64)
  location: location
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: registryName
}

resource pull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, identity.id, acrPull)
  scope: registry
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPull)
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

// Reading each secret's URI fails the deployment at once, naming the secret, when it is not in the
// vault (ResourceNotFound for Microsoft.KeyVault/vaults/<vault>/secrets/<name>), before any app starts.
resource secrets 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = [for entry in keyVaultSecrets: {
  parent: vault
  name: entry.secret
}]

resource readSecret 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (entry, i) in keyVaultSecrets: {
  name: guid(vault.id, entry.secret, identity.id, secretsUser)
  scope: secrets[i]
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUser)
  }
}]

resource app 'Microsoft.App/containerApps@2025-07-01' = {
  // Its roles first: the platform fetches the image and the secrets with them as the app is created.
  dependsOn: [ pull, readSecret ]
  name: take('stdio-${serverName}-${uniqueString(environmentId)}', 32)
  location: location
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${identity.id}': {} } }
  properties: {
    environmentId: environmentId
    workloadProfileName: 'Consumption'
    configuration: {
      activeRevisionsMode: 'Single'
      // Outside the environment: in the private deployment's internal environment that means the
      // VNet (the Function App), never the internet; in the public one, the internet, behind the key.
      ingress: {
        external: true
        targetPort: 8080
        transport: 'http'
        allowInsecure: false
      }
      registries: [ { server: registry.properties.loginServer, identity: identity.id } ]
      secrets: [for (entry, i) in keyVaultSecrets: {
        name: entry.name
        keyVaultUrl: secrets[i].properties.secretUri
        identity: identity.id
      }]
    }
    template: {
      containers: [
        {
          name: 'bridge'
          image: server.?image ?? bridgeImage
          args: concat(command, server.?args ?? [])
          env: concat(fixedEnv, plainEnv, secretEnv)
          resources: { cpu: json(string(server.?cpu ?? '0.5')), memory: server.?memory ?? '1Gi' }
          probes: [
            { type: 'Startup', httpGet: { path: '/ping', port: 8080 }, periodSeconds: 2, failureThreshold: 60 }
            { type: 'Liveness', httpGet: { path: '/ping', port: 8080 }, periodSeconds: 10, failureThreshold: 3 }
          ]
        }
      ]
      scale: { minReplicas: scaleToZero ? 0 : checkedReplicas, maxReplicas: checkedReplicas }
    }
  }
}

output hubSettings object = {
  'MCPHUB_SERVER_${toUpper(server.name)}__URL': 'https://${app.properties.configuration.ingress.fqdn}/mcp'
  'MCPHUB_SERVER_${toUpper(server.name)}__STDIO': 'true'
  'MCPHUB_SERVER_${toUpper(server.name)}__HEADERS__X_API_KEY': '@Microsoft.KeyVault(SecretUri=${secrets[0].properties.secretUri})'
}
