// MCPHub: the hub in two (or more) regions behind Azure Front Door, one session store both reach.
// `azd up` (azure.yaml) or `az deployment group create -g <rg> -f bicep/main.bicep -p bicep/main.parameters.json`.
targetScope = 'resourceGroup'

@description('Short name used in every resource name')
@minLength(3)
@maxLength(12)
param name string = 'mcphub'

@description('The regions the hub runs in; the first also hosts the shared resources')
@minLength(2)
param regions array = [ 'westeurope', 'northeurope' ]

@description('Entra tenant(s) whose users may sign in; empty entries are dropped, and none at all means this deployment\'s own tenant (azd sets no AZURE_TENANT_ID)')
param tenantIds array = []

@description('The hub app registration (bicep/register-app.sh creates it)')
@minLength(36)
param hubClientId string

@description('The hub app\'s Application ID URI: api://<client id> unless the tenant has a verified custom domain for it')
param appIdUri string = 'api://${hubClientId}'

@secure()
@description('A client secret of the hub app registration')
@minLength(1)
param hubClientSecret string

@secure()
@description('Comma-separated base64 AES-256 keys, newest first: python -c "import os,base64;print(base64.b64encode(os.urandom(32)).decode())"')
@minLength(44)
param vaultKeys string

@description('Upstream servers as settings, e.g. { MCPHUB_SERVER_GITHUB__URL: "https://..." }; no secrets here (use Key Vault references)')
param serverSettings object = {}

@description('''Stdio servers, each run in Azure Container Apps behind the bridge (bicep/bridge) and added to the
hub as MCPHUB_SERVER_<NAME>__URL. An entry: { name, package (npm "@scope/name@1.2.3" or PyPI "name==1.2.3"),
runner ("npx" | "uvx"), or image (built FROM the bridge image), command, args [], env { VAR: value },
secrets { VAR: "<Key Vault secret name>" }, replicas (1), stateless (false), scaleToZero (false), cpu (0.5),
memory ("1Gi") }. `make preflight` checks them as shared/stdio.py does.''')
param stdioServers array = []

@secure()
@description('The key each stdio bridge requires of the hub (needed with stdioServers): python -c "import secrets;print(secrets.token_urlsafe(32))"')
param bridgeKey string = ''

@description('An existing container registry in this resource group holding the bridge image (needed with stdioServers)')
param bridgeRegistry string = ''
param bridgeImageTag string = 'mcphub-bridge:6.7.19'

@allowed([ 'Standard_AzureFrontDoor', 'Premium_AzureFrontDoor' ])
param frontDoorSku string = 'Standard_AzureFrontDoor'
param wafEnabled bool = true

@description('Always-ready instances per region (0 = scale to zero, with cold starts); with capacityMode apply, only for a region\'s first deployment')
param alwaysReady int = 1
@description('Maximum instances per region; with capacityMode apply, only for a region\'s first deployment')
param maximumInstances int = 100

@description('The capacity controller (shared/forecast/scaling.py): off; dry-run records what it would set; apply sets always-ready and maximum instances from the forecast')
@allowed([ 'off', 'dry-run', 'apply' ])
param capacityMode string = 'dry-run'
@description('Least always-ready instances the controller keeps in a region, and per region: { westeurope: 2 }')
param capacityFloor int = 1
param capacityFloors object = {}
@description('Most instances the controller sets in a region, and per region (the failover floor may exceed it)')
param capacityCeiling int = 100
param capacityCeilings object = {}
@description('What the apps have now, "<app>=<always ready>/<maximum>,...": bicep/live_scale.py (the azd preprovision hook) sets it, so that with capacityMode apply a deployment keeps what the controller set')
param liveScale string = ''
@description('Concurrent HTTP requests per instance before the platform adds one (the hub is async; every open MCP stream holds one)')
param httpConcurrency int = 200

@description('VNet integration and private endpoints (the private deployment)')
param privateNetworking bool = false
@description('Company IP ranges that may reach the apps directly besides Front Door')
param allowedIpRanges array = []

var primary = regions[0]
// Never an empty tenant list (every sign-in would fail as a configuration error): the deployment's own tenant.
var namedTenants = filter(tenantIds, tenantId => !empty(tenantId))
var signInTenants = empty(namedTenants) ? [ tenant().tenantId ] : namedTenants

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: { name: name, location: primary, publisherPrincipalId: identity.outputs.principalId }
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: { name: name, location: primary }
}

module vault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    name: name
    location: primary
    principalId: identity.outputs.principalId
    vaultKeys: vaultKeys
    clientSecret: hubClientSecret
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
    bridgeKey: bridgeKey
  }
}

module store 'modules/sessionstore.bicep' = {
  name: 'sessionstore'
  params: { name: name, locations: regions, vaultName: vault.outputs.name }
}

module frontDoor 'modules/frontdoor.bicep' = {
  name: 'frontdoor'
  params: {
    name: name
    sku: frontDoorSku
    wafEnabled: wafEnabled
    controllerPrincipalId: identity.outputs.principalId
  }
}

resource vaultZone 'Microsoft.Network/privateDnsZones@2020-06-01' = if (privateNetworking) {
  name: 'privatelink.vaultcore.azure.net'
  location: 'global'
}

module network 'modules/network.bicep' = [for (region, i) in regions: if (privateNetworking) {
  name: 'network-${region}'
  params: {
    name: '${name}-${region}'
    location: region
    addressPrefix: '10.${40 + i}.0.0/16'
    keyVaultId: vault.outputs.id
    dnsZoneName: 'privatelink.vaultcore.azure.net'
  }
  dependsOn: [ vaultZone ]
}]

// A stdio server may not take a URL server's name (its route and its tool prefix), and needs the key and image.
var stdio = [for server in stdioServers: contains(serverSettings, 'MCPHUB_SERVER_${toUpper(server.name)}__URL')
  ? fail('stdioServers entry "${server.name}": serverSettings already has MCPHUB_SERVER_${toUpper(server.name)}__URL; rename one of them')
  : (empty(bridgeKey) || empty(bridgeRegistry)
      ? fail('stdioServers entry "${server.name}": stdio servers need the bridgeKey and bridgeRegistry parameters (bicep/README.md, step 4)')
      : server)]

module stdioServersInRegion 'modules/stdio.bicep' = [for (region, i) in regions: if (!empty(stdioServers)) {
  name: 'stdio-${region}'
  params: {
    name: '${name}-${region}'
    location: region
    servers: stdio
    vaultName: vault.outputs.name
    bridgeKeySecretName: 'mcphub-bridge-key' // written by modules/keyvault.bicep
    registryName: bridgeRegistry
    bridgeImage: '${bridgeRegistry}.azurecr.io/${bridgeImageTag}'
    workspaceName: monitoring.outputs.workspaceName
    subnetId: privateNetworking ? network[i].outputs.stdioSubnetId : ''
    vnetId: privateNetworking ? network[i].outputs.vnetId : ''
  }
}]

// Each region's Function App name (<name>.azurewebsites.net is global: a suffix from the resource
// group and region, 32 characters at most); known before the apps, so every region's settings can
// name every app (the capacity controller sets them all).
var appNames = map(regions, region => 'func-${take('${name}-${region}', 13)}-${uniqueString(resourceGroup().id, region)}')
var live = toObject(filter(split(liveScale, ','), entry => contains(entry, '=') && contains(entry, '/')), entry => split(entry, '=')[0], entry => split(split(entry, '=')[1], '/'))
var publicUrl = 'https://${frontDoor.outputs.endpointHost}'
var hubSettings = union(serverSettings, {
  MCPHUB_PUBLIC_URL: publicUrl
  MCPHUB_STORAGE_CONNECTION_STRING: store.outputs.storeReference
  MCPHUB_VAULT_KEYS: vault.outputs.vaultKeysReference
  MCPHUB_AUTH__TENANTS: join(signInTenants, ',')
  // Entra v2 tokens carry the client ID as audience; the App ID URI qualifies the scope clients ask
  // Entra for (api://<client id>/MCP.Access). The Front Door host is no verified domain of the
  // tenant, so it can be neither.
  MCPHUB_AUTH__AUDIENCES: '${hubClientId},${appIdUri}'
  MCPHUB_AUTH__CLIENT_ID: hubClientId
  MCPHUB_AUTH__CLIENT_SECRET: vault.outputs.clientSecretReference
  MCPHUB_ROUTING__KIND: 'frontdoor'
  MCPHUB_ROUTING__SUBSCRIPTION: subscription().subscriptionId
  MCPHUB_ROUTING__RESOURCE_GROUP: resourceGroup().name
  MCPHUB_ROUTING__PROFILE: frontDoor.outputs.profileName
  MCPHUB_ROUTING__ORIGIN_GROUP: 'hub'
  MCPHUB_SCALING__MODE: capacityMode
  MCPHUB_SCALING__SITES: join(map(range(0, length(regions)), i => '${regions[i]}=${resourceId('Microsoft.Web/sites', appNames[i])}'), ',')
  MCPHUB_SCALING__DEFAULT_FLOOR: string(capacityFloor)
  MCPHUB_SCALING__FLOORS: join(map(items(capacityFloors), floor => '${floor.key}=${floor.value}'), ',')
  MCPHUB_SCALING__DEFAULT_CEILING: string(capacityCeiling)
  MCPHUB_SCALING__CEILINGS: join(map(items(capacityCeilings), ceiling => '${ceiling.key}=${ceiling.value}'), ',')
  PYTHON_ENABLE_INIT_INDEXING: '1'
})

module apps 'modules/functionapp.bicep' = [for (region, i) in regions: {
  name: 'app-${region}'
  params: {
    name: '${name}-${region}'
    appName: appNames[i]
    location: region
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    identityPrincipalId: identity.outputs.principalId
    insightsConnectionString: monitoring.outputs.insightsConnectionString
    // Each region's hub reaches its own region's stdio servers.
    settings: empty(stdioServers)
      ? hubSettings
      : union(hubSettings, reduce(stdioServersInRegion[i].outputs.serverSettings, {}, (all, one) => union(all, one)))
    // With the controller applying, a deployment keeps what it set (bicep/live_scale.py read it).
    alwaysReady: capacityMode == 'apply' && contains(live, appNames[i]) ? int(live[appNames[i]][0]) : alwaysReady
    maximumInstances: capacityMode == 'apply' && contains(live, appNames[i]) ? int(live[appNames[i]][1]) : maximumInstances
    httpConcurrency: httpConcurrency
    subnetId: privateNetworking ? network[i].outputs.appsSubnetId : ''
    allowedIpRanges: allowedIpRanges
    frontDoorId: frontDoor.outputs.frontDoorId
    serviceTag: i == 0 ? 'hub' : 'hub-${region}'
  }
}]

module origins 'modules/frontdoor-origins.bicep' = {
  name: 'frontdoor-origins'
  params: {
    profileName: frontDoor.outputs.profileName
    endpointName: frontDoor.outputs.endpointName
    origins: [for (region, i) in regions: { region: region, hostName: apps[i].outputs.hostName }]
  }
}

output mcpUrl string = '${publicUrl}/mcp'
output frontDoorEndpoint string = frontDoor.outputs.endpointHost
output appNames array = [for (region, i) in regions: apps[i].outputs.name]
output tenantIds array = signInTenants
output appIdUri string = appIdUri
