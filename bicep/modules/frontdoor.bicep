// Azure Front Door profile and endpoint (the hub's public URL), WAF, and the routing controller's
// role. The origins come in frontdoor-origins.bicep, once the regions' apps exist.
param name string
param sku string = 'Standard_AzureFrontDoor'
param wafEnabled bool = true
param controllerPrincipalId string

var cdnProfileContributor = 'ec156ff8-a8d1-4d15-830c-5b80698ca432' // CDN Profile Contributor

resource profile 'Microsoft.Cdn/profiles@2024-02-01' = {
  name: 'afd-${name}'
  location: 'global'
  sku: { name: sku }
}

resource endpoint 'Microsoft.Cdn/profiles/afdEndpoints@2024-02-01' = {
  parent: profile
  name: 'ep-${name}'
  location: 'global'
  properties: { enabledState: 'Enabled' }
}

resource waf 'Microsoft.Network/FrontDoorWebApplicationFirewallPolicies@2022-05-01' = if (wafEnabled) {
  name: 'waf${replace(name, '-', '')}'
  location: 'global'
  sku: { name: sku }
  properties: {
    policySettings: { enabledState: 'Enabled', mode: 'Prevention' }
  }
}

resource security 'Microsoft.Cdn/profiles/securityPolicies@2024-02-01' = if (wafEnabled) {
  parent: profile
  name: 'waf'
  properties: {
    parameters: {
      type: 'WebApplicationFirewall'
      wafPolicy: { id: waf.id }
      associations: [ { domains: [ { id: endpoint.id } ], patternsToMatch: [ '/*' ] } ]
    }
  }
}

// The routing controller changes origins, nothing else: the role is scoped to this profile.
resource controller 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(profile.id, controllerPrincipalId, cdnProfileContributor)
  scope: profile
  properties: {
    principalId: controllerPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', cdnProfileContributor)
  }
}

output profileName string = profile.name
output endpointName string = endpoint.name
output endpointHost string = endpoint.properties.hostName
output frontDoorId string = profile.properties.frontDoorId
