// One region of the hub: Flex Consumption Function App (Python 3.13) with its deployment storage.
param name string
@description('The Function App\'s name (main.bicep derives it, so every region\'s settings can name it)')
@maxLength(32)
param appName string
param location string
param identityId string
param identityClientId string
param identityPrincipalId string
param insightsConnectionString string
@description('App settings common to every region (server registry, sign-in, Key Vault references)')
param settings object
param alwaysReady int = 1
param maximumInstances int = 100
param instanceMemoryMB int = 2048
@description('Concurrent HTTP requests per instance before the platform adds one (the hub is async; an open MCP stream holds one)')
@minValue(1)
@maxValue(1000)
param httpConcurrency int = 200
@description('Subnet for VNet integration; empty for none')
param subnetId string = ''
@description('Company IP ranges allowed besides Front Door; empty list = Front Door only')
param allowedIpRanges array = []
param frontDoorId string
@description('azd-service-name tag: azd deploys the package to the app tagged "hub"')
param serviceTag string

var blobOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // Storage Blob Data Owner
var tableContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // Storage Table Data Contributor
var queueContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88' // Storage Queue Data Contributor
var websiteContributor = 'de139f84-1756-47ae-9be6-808fbbe84772' // Website Contributor
var container = 'deployments'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: take('st${replace(name, '-', '')}${uniqueString(resourceGroup().id, location)}', 24)
  location: location
  kind: 'StorageV2'
  sku: { name: 'Standard_ZRS' }
  properties: {
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
  }
}

resource blobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource deployments 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobs
  name: container
}

resource roles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in [blobOwner, tableContributor, queueContributor]: {
  name: guid(storage.id, identityPrincipalId, role)
  scope: storage
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
  }
}]

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: 'plan-${name}'
  location: location
  kind: 'functionapp'
  sku: { name: 'FC1', tier: 'FlexConsumption' }
  properties: { reserved: true }
}

var frontDoorOnly = [
  {
    name: 'front-door'
    action: 'Allow'
    priority: 100
    tag: 'ServiceTag'
    ipAddress: 'AzureFrontDoor.Backend'
    headers: { 'x-azure-fdid': [ frontDoorId ] }
  }
]
var companyRanges = [for (range, i) in allowedIpRanges: {
  name: 'company-${i}'
  action: 'Allow'
  priority: 200 + i
  ipAddress: range
}]

resource app 'Microsoft.Web/sites@2024-04-01' = {
  // <name>.azurewebsites.net is global: a suffix from the resource group and region, 32 characters at most.
  name: appName
  location: location
  tags: { 'azd-service-name': serviceTag }
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    virtualNetworkSubnetId: empty(subnetId) ? null : subnetId
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${container}'
          authentication: { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: identityId }
        }
      }
      runtime: { name: 'python', version: '3.13' }
      scaleAndConcurrency: {
        alwaysReady: alwaysReady > 0 ? [ { name: 'http', instanceCount: alwaysReady } ] : []
        maximumInstanceCount: maximumInstances
        instanceMemoryMB: instanceMemoryMB
        triggers: { http: { perInstanceConcurrency: httpConcurrency } }
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      ipSecurityRestrictionsDefaultAction: 'Deny'
      ipSecurityRestrictions: concat(frontDoorOnly, companyRanges)
      appSettings: [for setting in items(union(settings, {
        AzureWebJobsStorage__accountName: storage.name
        AzureWebJobsStorage__credential: 'managedidentity'
        AzureWebJobsStorage__clientId: identityClientId
        AZURE_CLIENT_ID: identityClientId
        // Only requests carrying this Front Door's ID have their X-Azure-ClientIP believed (client_address.py).
        MCPHUB_FRONT_DOOR_ID: frontDoorId
        APPLICATIONINSIGHTS_CONNECTION_STRING: insightsConnectionString
        APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
        // The Python worker configures azure-monitor-opentelemetry (with host.json telemetryMode
        // OpenTelemetry); the hub sees this and does not configure it a second time.
        PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY: 'true'
        MCPHUB_REGION: location
        MCPHUB_INSTANCE_NAME: name
      })): { name: setting.key, value: setting.value }]
    }
  }
  dependsOn: [ roles ]
}

// The capacity controller sets this app's always-ready and maximum instances (GET and PUT of the site).
resource scaler 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(app.id, identityPrincipalId, websiteContributor)
  scope: app
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', websiteContributor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output hostName string = app.properties.defaultHostName
output name string = app.name
