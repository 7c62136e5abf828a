// Optional private deployment: a VNet per region with a subnet the Function App integrates with
// (delegated to Microsoft.App/environments, as Flex Consumption requires) and one for private
// endpoints, plus a private endpoint for Key Vault.
param name string
param location string
param addressPrefix string = '10.40.0.0/16'
param keyVaultId string
@description('The privatelink.vaultcore.azure.net zone, created once for all regions by main.bicep')
param dnsZoneName string

resource vnet 'Microsoft.Network/virtualNetworks@2023-11-01' = {
  name: 'vnet-${name}'
  location: location
  properties: {
    addressSpace: { addressPrefixes: [ addressPrefix ] }
    subnets: [
      {
        name: 'apps'
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 24, 0)
          delegations: [ { name: 'flex', properties: { serviceName: 'Microsoft.App/environments' } } ]
        }
      }
      {
        name: 'endpoints'
        properties: { addressPrefix: cidrSubnet(addressPrefix, 24, 1) }
      }
      {
        // The stdio servers' Container Apps environment (workload profiles: /27 at least, delegated).
        name: 'stdio'
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 24, 2)
          delegations: [ { name: 'apps', properties: { serviceName: 'Microsoft.App/environments' } } ]
        }
      }
    ]
  }
}

resource zone 'Microsoft.Network/privateDnsZones@2020-06-01' existing = {
  name: dnsZoneName
}

resource link 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = {
  parent: zone
  name: 'vnet-${name}'
  location: 'global'
  properties: {
    virtualNetwork: { id: vnet.id }
    registrationEnabled: false
  }
}

resource vaultEndpoint 'Microsoft.Network/privateEndpoints@2023-11-01' = {
  name: 'pe-kv-${name}'
  location: location
  properties: {
    subnet: { id: '${vnet.id}/subnets/endpoints' }
    privateLinkServiceConnections: [
      { name: 'vault', properties: { privateLinkServiceId: keyVaultId, groupIds: [ 'vault' ] } }
    ]
  }
}

resource vaultDns 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2023-11-01' = {
  parent: vaultEndpoint
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [ { name: 'vault', properties: { privateDnsZoneId: zone.id } } ]
  }
}

output appsSubnetId string = '${vnet.id}/subnets/apps'
output stdioSubnetId string = '${vnet.id}/subnets/stdio'
output vnetId string = vnet.id
