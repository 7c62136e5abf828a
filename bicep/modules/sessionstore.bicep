// The store both regions reach: Azure Cosmos DB for Table with multi-region writes (see the
// README's "Session continuity"). The hub's code speaks the Table API either way.
param name string
param locations array
@description('The Key Vault that receives the connection string (never an output)')
param vaultName string

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-05-15' = {
  name: toLower('cosmos-${name}-${uniqueString(resourceGroup().id)}') // global DNS name: 3-44 characters
  location: locations[0]
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    enableMultipleWriteLocations: true
    enableAutomaticFailover: true
    capabilities: [ { name: 'EnableTable' } ]
    consistencyPolicy: { defaultConsistencyLevel: 'Session' }
    locations: [for (location, i) in locations: {
      locationName: location
      failoverPriority: i
      isZoneRedundant: false
    }]
    minimalTlsVersion: 'Tls12'
  }
}

var tables = [ 'mcphubsessions', 'mcphubgrants', 'mcphubhealth', 'mcphubleases' ]

resource table 'Microsoft.DocumentDB/databaseAccounts/tables@2024-05-15' = [for tableName in tables: {
  parent: account
  name: tableName
  properties: {
    resource: { id: tableName }
    options: { autoscaleSettings: { maxThroughput: 1000 } }
  }
}]

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

resource connection 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'mcphub-store-connection'
  properties: {
    value: 'DefaultEndpointsProtocol=https;AccountName=${account.name};AccountKey=${account.listKeys().primaryMasterKey};TableEndpoint=https://${account.name}.table.cosmos.azure.com:443/;'
  }
}

output id string = account.id
output storeReference string = '@Microsoft.KeyVault(SecretUri=${connection.properties.secretUri})'
