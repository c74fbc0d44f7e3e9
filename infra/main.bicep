// Stelly in Azure: `azd up` provisions this file, then deploys the Function App (service `api`).
// Resource-level detail lives in app/*.bicep; this file names things, wires modules together and
// owns the one piece of arithmetic that crosses modules (database connections, see below).
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; seeds the unique suffix of every resource name.')
param environmentName string

@minLength(1)
@description('Region for everything except the global Front Door resources. Must offer Flex Consumption.')
@metadata({ azd: { type: 'location' } })
param location string

@description('Object id of whoever runs azd (set by azd). Gets read access to Key Vault secrets so re-provisioning reuses the Postgres password. Empty in pipelines that do not need it.')
param principalId string = ''

@description('Kind of principal in principalId.')
@allowed(['User', 'ServicePrincipal'])
param principalType string = 'User'

@description('Domain whose subdomains are storefronts: tenants live at <slug>.<platformDomain> (PLATFORM_DOMAIN).')
param platformDomain string

@description('Issuer of the JWTs admin, kitchen and platform callers present (AUTH_ISSUER).')
param authIssuer string

@description('Audience those JWTs must carry (AUTH_AUDIENCE).')
param authAudience string

@description('JWKS URL of the issuer (AUTH_JWKS_URL).')
param authJwksUrl string

@secure()
@minLength(32)
@description('Key that signs table QR tokens (QR_SIGNING_KEY). Generate once, e.g. `openssl rand -base64 48`; rotating it invalidates printed QR codes.')
param qrSigningKey string

@secure()
@description('Postgres administrator password. azd generates it on the first run and reads it back from Key Vault afterwards.')
param postgresAdminPassword string

@description('Postgres administrator login; the app connects as this role because it creates one schema per tenant.')
param postgresAdminLogin string = 'stellyadmin'

@description('Postgres compute. Burstable B1ms is the cheapest; the connection budget below follows the SKU.')
@allowed([
  'Standard_B1ms'
  'Standard_B2s'
  'Standard_B2ms'
  'Standard_D2ds_v5'
  'Standard_D4ds_v5'
])
param postgresSkuName string = 'Standard_B1ms'

@description('true: Postgres only inside a VNet the Function App joins. false: public endpoint behind the "Azure services" firewall rule.')
param postgresPrivateAccess bool = false

@description('Upper bound on Function App instances in each Flex scale group (see the connection budget below). Flex accepts 1-1000.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 3

@description('Host name of the static storefront (e.g. <account>.z6.web.core.windows.net). Empty: no /* route yet.')
param storefrontOriginHostName string = ''

@description('Name of a *.<platformDomain> certificate imported into this deployment\'s Key Vault. Empty: only the azurefd.net endpoint serves traffic.')
param wildcardCertificateName string = ''

@description('Restaurants\' own domains, comma-separated (menu.pizzeria.it,order.trattoria.de): each gets a Front Door custom domain with a managed certificate. Add them here, never by hand: every provision sets the routes\' domain lists to exactly these plus the wildcard.')
param restaurantDomainList string = ''

@description('Create the Event Grid subscription that feeds the uploads blob trigger. Needs the code deployed first (see azure.yaml postdeploy hook).')
param uploadsEventSubscriptionEnabled bool = false

@description('Python function name of the Event Grid blob trigger on the uploads container.')
param uploadsFunctionName string = 'process_image_upload'

@description('Front Door WAF mode; Detection logs matches without blocking (useful while tuning).')
@allowed(['Prevention', 'Detection'])
param wafMode string = 'Prevention'

@description('Requests per minute one client IP may send to /api/ before the WAF blocks it.')
@minValue(10)
param apiRateLimitPerMinute int = 600

var abbreviations = {
  appInsights: 'appi-'
  eventGridSystemTopic: 'evgst-'
  frontDoorEndpoint: 'fde-'
  frontDoorProfile: 'afd-'
  frontDoorWafPolicy: 'waf'
  functionApp: 'func-'
  functionPlan: 'plan-'
  keyVault: 'kv-'
  logAnalytics: 'log-'
  managedIdentity: 'id-'
  postgres: 'psql-'
  resourceGroup: 'rg-'
  storage: 'st'
  virtualNetwork: 'vnet-'
  webPubSub: 'wps-'
}
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }

var functionAppName = '${abbreviations.functionApp}${resourceToken}'
// Flex apps keep the classic <name>.azurewebsites.net default host name (we do not opt in to the
// randomised one), so Front Door can be built before the app and hand it FRONTDOOR_ID: no cycle.
var functionAppHostName = '${functionAppName}.azurewebsites.net'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'
var keyVaultName = '${abbreviations.keyVault}${resourceToken}'
var databaseName = 'stelly'
var webPubSubHub = 'kitchen'

// Connection budget. Every instance runs one Python worker with one psycopg pool of at most
// DATABASE_POOL_MAX connections. Flex Consumption scales per function group and caps each group,
// not the app, at maximumInstanceCount ("The maximum instance count applies to on-demand instances
// in each per-function scale group rather than to the app's combined instances"). All HTTP
// functions share a group, so do the blob (Event Grid) triggers and the Durable functions; every
// other trigger gets its own. So the worst case is DATABASE_POOL_MAX x maximumInstanceCount x
// scale groups. Azure keeps 15 of max_connections for itself; we keep 5 more for psql,
// migrations run by hand and monitoring. B1ms: 50 - 15 - 5 = 30 for the app; 3 instances x 5
// groups x 2 = 30. The function module rejects a pool size below 1, so asking for more instances
// than the SKU can feed fails the deployment instead of failing requests later. Burstable SKUs
// have no built-in PgBouncer.
var postgresSkus = {
  Standard_B1ms: {
    tier: 'Burstable'
    maxConnections: 50
  }
  Standard_B2s: {
    tier: 'Burstable'
    maxConnections: 429
  }
  Standard_B2ms: {
    tier: 'Burstable'
    maxConnections: 859
  }
  Standard_D2ds_v5: {
    tier: 'GeneralPurpose'
    maxConnections: 859
  }
  Standard_D4ds_v5: {
    tier: 'GeneralPurpose'
    maxConnections: 1718
  }
}
var postgresReservedConnections = 15
var operatorConnections = 5
var appConnectionBudget = postgresSkus[postgresSkuName].maxConnections - postgresReservedConnections - operatorConnections
// HTTP, blob (Event Grid) and Durable are a group each; the two timers of
// functions/order_timers.py are groups of their own (tests/infra checks this count).
var sharedScaleGroups = 3
var independentScaleGroups = 2
var scaleGroups = sharedScaleGroups + independentScaleGroups
// RESTAURANT_DOMAINS as a list: trimmed, lowercased, empty entries dropped.
var restaurantDomains = filter(map(split(restaurantDomainList, ','), domain => toLower(trim(domain))), domain => !empty(domain))
// 20 is plenty for one worker (HTTP concurrency per instance is 16) and keeps idle connections cheap.
var databasePoolMax = min(20, appConnectionBudget / (maximumInstanceCount * scaleGroups))

// One resource group per azd environment, so `azd down` removes everything.
resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: '${abbreviations.resourceGroup}${environmentName}'
  location: location
  tags: tags
}

// The identity the Function App runs as: storage, Key Vault, Web PubSub and App Insights trust it.
module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbreviations.managedIdentity}api-${resourceToken}'
    location: location
    tags: tags
  }
}

// Logs and traces for the app and the Functions host.
module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbreviations.logAnalytics}${resourceToken}'
    appInsightsName: '${abbreviations.appInsights}${resourceToken}'
    location: location
    tags: tags
    publisherPrincipalId: identity.outputs.principalId
  }
}

// Host storage, images, the tenant directory and the audit trail.
module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbreviations.storage}${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    appPrincipalId: identity.outputs.principalId
  }
}

// Only when Postgres is private: the VNet the Function App joins to reach it.
module network 'app/network.bicep' = if (postgresPrivateAccess) {
  name: 'network'
  scope: rg
  params: {
    name: '${abbreviations.virtualNetwork}${resourceToken}'
    location: location
    tags: tags
  }
}

// The relational store: public schema plus one schema per tenant.
module postgres 'app/postgres.bicep' = {
  name: 'postgres'
  scope: rg
  params: {
    name: '${abbreviations.postgres}${resourceToken}'
    location: location
    tags: tags
    skuName: postgresSkuName
    skuTier: postgresSkus[postgresSkuName].tier
    administratorLogin: postgresAdminLogin
    administratorPassword: postgresAdminPassword
    databaseName: databaseName
    privateAccess: postgresPrivateAccess
    delegatedSubnetId: postgresPrivateAccess ? network.outputs.postgresSubnetId : ''
    privateDnsZoneId: postgresPrivateAccess ? network.outputs.privateDnsZoneId : ''
  }
}

// Secrets the app reads through Key Vault references: the database URL and the QR signing key.
module keyVault 'app/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: keyVaultName
    location: location
    tags: tags
    appPrincipalId: identity.outputs.principalId
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
    qrSigningKey: qrSigningKey
    postgresAdminPassword: postgresAdminPassword
    // sslmode=require: Azure refuses plain-text connections; the password is URL-encoded because
    // generated passwords may contain reserved characters.
    databaseUrl: 'postgresql://${postgresAdminLogin}:${uriComponent(postgresAdminPassword)}@${postgres.outputs.fullyQualifiedDomainName}:5432/${postgres.outputs.databaseName}?sslmode=require'
  }
}

// Kitchen displays and customers subscribe here; the app publishes with its identity.
module webPubSub 'app/webpubsub.bicep' = {
  name: 'webpubsub'
  scope: rg
  params: {
    name: '${abbreviations.webPubSub}${resourceToken}'
    location: location
    tags: tags
    hubName: webPubSubHub
    ownerPrincipalId: identity.outputs.principalId
  }
}

// The only public entrance: wildcard tenant domains, WAF, edge cache, routing to app and storefront.
module frontDoor 'app/frontdoor.bicep' = {
  name: 'frontdoor'
  scope: rg
  params: {
    profileName: '${abbreviations.frontDoorProfile}${resourceToken}'
    endpointName: '${abbreviations.frontDoorEndpoint}${resourceToken}'
    wafPolicyName: '${abbreviations.frontDoorWafPolicy}${resourceToken}'
    tags: tags
    platformDomain: platformDomain
    functionAppHostName: functionAppHostName
    assetsOriginHostName: storage.outputs.blobHostName
    storefrontOriginHostName: storefrontOriginHostName
    keyVaultName: keyVault.outputs.name
    wildcardCertificateName: wildcardCertificateName
    restaurantDomains: restaurantDomains
    wafMode: wafMode
    apiRateLimitPerMinute: apiRateLimitPerMinute
  }
}

// The Function App on Flex Consumption, with every app setting the code reads.
module api 'app/function.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    planName: '${abbreviations.functionPlan}${resourceToken}'
    location: location
    tags: tags
    serviceName: 'api'
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageQueueEndpoint: storage.outputs.queueEndpoint
    storageTableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerName: deploymentContainerName
    maximumInstanceCount: maximumInstanceCount
    appInsightsConnectionString: monitoring.outputs.connectionString
    databaseUrlSecretUri: keyVault.outputs.databaseUrlSecretUri
    qrSigningKeySecretUri: keyVault.outputs.qrSigningKeySecretUri
    databasePoolMax: databasePoolMax
    webPubSubEndpoint: webPubSub.outputs.endpoint
    webPubSubHub: webPubSub.outputs.hubName
    authIssuer: authIssuer
    authAudience: authAudience
    authJwksUrl: authJwksUrl
    platformDomain: platformDomain
    frontDoorId: frontDoor.outputs.frontDoorId
    assetsBaseUrl: 'https://${frontDoor.outputs.endpointHostName}/assets'
    virtualNetworkSubnetId: postgresPrivateAccess ? network.outputs.appSubnetId : ''
  }
}

// Blob-created events on the uploads container, pushed to the app's blob trigger.
module uploadsEvents 'app/events.bicep' = {
  name: 'uploads-events'
  scope: rg
  params: {
    systemTopicName: '${abbreviations.eventGridSystemTopic}${resourceToken}'
    location: location
    tags: tags
    storageAccountName: storage.outputs.name
    uploadsContainerName: storage.outputs.uploadsContainerName
    deadLetterContainerName: storage.outputs.deadLetterContainerName
    functionAppName: api.outputs.name
    uploadsFunctionName: uploadsFunctionName
    subscriptionEnabled: uploadsEventSubscriptionEnabled
  }
}

// azd stores these in the environment (.azure/<env>/.env); hooks and later runs read them.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output DATABASE_POOL_MAX int = databasePoolMax
output FRONTDOOR_ID string = frontDoor.outputs.frontDoorId
output FRONTDOOR_ENDPOINT_HOST string = frontDoor.outputs.endpointHostName
output FRONTDOOR_DOMAIN_VALIDATION_TOKEN string = frontDoor.outputs.customDomainValidationToken
output RESTAURANT_DOMAIN_VALIDATION array = frontDoor.outputs.restaurantDomainValidation
output POSTGRES_HOST string = postgres.outputs.fullyQualifiedDomainName
output WEBPUBSUB_ENDPOINT string = webPubSub.outputs.endpoint
