// One region's stdio servers: a Container Apps environment and, per `servers` entry, a container
// app running the bridge (bicep/bridge: npm mcp-proxy in front of the server's stdio process).
// Reached only by the hub: every bridge requires the deployment's bridge key (X-API-Key, from Key
// Vault), and in the private deployment the environment is internal to the region's VNet (no public
// endpoint; a private DNS zone resolves its apps for the Function App).
param name string
param location string
@description('The stdioServers entries (main.bicep documents their fields)')
param servers array
param vaultName string
@description('The Key Vault secret holding the bridge key')
param bridgeKeySecretName string
@description('An existing container registry (same resource group) holding the bridge image')
param registryName string
param bridgeImage string
param workspaceName string
@description('The VNet subnet for the environment (delegated to Microsoft.App/environments); empty for none')
param subnetId string = ''
param vnetId string = ''

var internal = !empty(subnetId)

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

resource environment 'Microsoft.App/managedEnvironments@2025-07-01' = {
  name: 'cae-${name}'
  location: location
  properties: {
    workloadProfiles: [ { name: 'Consumption', workloadProfileType: 'Consumption' } ]
    vnetConfiguration: internal ? { infrastructureSubnetId: subnetId, internal: true } : null
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: workspace.properties.customerId
        sharedKey: workspace.listKeys().primarySharedKey
      }
    }
    zoneRedundant: false
  }
}

// The internal environment's apps resolve to its static IP inside the VNet.
resource zone 'Microsoft.Network/privateDnsZones@2020-06-01' = if (internal) {
  name: environment.properties.defaultDomain
  location: 'global'
}

resource wildcard 'Microsoft.Network/privateDnsZones/A@2020-06-01' = if (internal) {
  parent: zone
  name: '*'
  properties: {
    ttl: 300
    aRecords: [ { ipv4Address: environment.properties.staticIp } ]
  }
}

resource link 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = if (internal) {
  parent: zone
  name: 'vnet-${name}'
  location: 'global'
  properties: {
    virtualNetwork: { id: vnetId }
    registrationEnabled: false
  }
}

module apps 'stdio-server.bicep' = [for server in servers: {
  name: 'stdio-${server.name}-${location}'
  params: {
    server: server
    location: location
    environmentId: environment.id
    vaultName: vaultName
    bridgeKeySecretName: bridgeKeySecretName
    registryName: registryName
    bridgeImage: bridgeImage
  }
}]

@description('The hub\'s view of each server: its MCPHUB_SERVER_<NAME>__URL, __STDIO and bridge key header')
output serverSettings array = [for (server, i) in servers: apps[i].outputs.hubSettings]
