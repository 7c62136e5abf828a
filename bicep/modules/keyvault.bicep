// Key Vault (RBAC) holding the vault keys (and, written by the session store module, its
// connection); the hub reads them through Key Vault references in its app settings.
param name string
param location string
param principalId string
@secure()
param vaultKeys string
@secure()
param clientSecret string
param publicNetworkAccess string = 'Enabled'
@secure()
@description('The key every stdio bridge requires of the hub (X-API-Key); empty when there are no stdio servers')
param bridgeKey string = ''

var secretsUser = '4633458b-17de-408a-b874-0445c86b69e6' // Key Vault Secrets User

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // Globally unique, and a purge-protected vault keeps its name for 90 days after deletion: a
  // suffix from the resource group (as the azd templates do), cut to the 24 characters allowed.
  name: take('kv-${name}-${uniqueString(resourceGroup().id)}', 24)
  location: location
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    enablePurgeProtection: true
    publicNetworkAccess: publicNetworkAccess
  }
}

resource keys 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'mcphub-vault-keys'
  properties: { value: vaultKeys }
}

resource hubSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'mcphub-client-secret'
  properties: { value: clientSecret }
}

resource bridgeKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(bridgeKey)) {
  parent: vault
  name: 'mcphub-bridge-key'
  properties: { value: bridgeKey }
}

resource readSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, secretsUser)
  scope: vault
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUser)
  }
}

output id string = vault.id
output vaultKeysReference string = '@Microsoft.KeyVault(SecretUri=${keys.properties.secretUri})'
output name string = vault.name
output clientSecretReference string = '@Microsoft.KeyVault(SecretUri=${hubSecret.properties.secretUri})'

