// The Function App on the Flex Consumption plan (FC1, Linux, Python 3.11).
//
// Flex replaces several classic app settings with properties.functionAppConfig (runtime, scale,
// deployment storage). Settings Flex deprecates are deliberately absent: FUNCTIONS_WORKER_RUNTIME,
// FUNCTIONS_EXTENSION_VERSION, WEBSITE_RUN_FROM_PACKAGE, WEBSITE_CONTENT*, SCM_DO_BUILD_DURING_DEPLOYMENT
// and friends (see "Flex Consumption plan deprecations" in the Functions app settings reference;
// tests/infra checks the list).
param name string
param planName string
param location string
param tags object

@description('azd service name in azure.yaml; azd finds this app by the azd-service-name tag.')
param serviceName string

param identityId string
param identityClientId string
param storageAccountName string
param storageBlobEndpoint string
param storageQueueEndpoint string
param storageTableEndpoint string
param deploymentContainerName string

@minValue(1)
@maxValue(1000)
param maximumInstanceCount int

@description('HTTP requests one instance handles at once (the Flex default for 2,048 MB). They share the pool.')
param httpPerInstanceConcurrency int = 16

param appInsightsConnectionString string
param databaseUrlSecretUri string
param qrSigningKeySecretUri string

// Below 1 means main.bicep was asked for more instances than the Postgres SKU has connections for.
@minValue(1)
@maxValue(200)
@description('Connections per instance; main.bicep derives it from the Postgres SKU and maximumInstanceCount.')
param databasePoolMax int

param webPubSubEndpoint string
param webPubSubHub string
param authIssuer string
param authAudience string
param authJwksUrl string
param platformDomain string
param frontDoorId string
param assetsBaseUrl string

@description('Subnet for outbound VNet integration (private Postgres); empty for none.')
param virtualNetworkSubnetId string = ''

// The Flex Consumption plan: billed per execution and memory-second, scales to zero, one app per plan.
resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

// The app. Runs as the user-assigned identity, also for Key Vault references and deployment storage.
resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    virtualNetworkSubnetId: empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: 2048
        triggers: {
          http: {
            perInstanceConcurrency: httpPerInstanceConcurrency
          }
        }
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      // Only Front Door (its backend addresses *and* our profile's id) and Event Grid (blob webhook,
      // authenticated by the blobs_extension key) may call the app. Anyone else gets 403, so the
      // X-Forwarded-Host the app trusts can only have come through our Front Door.
      ipSecurityRestrictionsDefaultAction: 'Deny'
      ipSecurityRestrictions: [
        {
          name: 'front-door'
          description: 'Our Front Door profile only'
          action: 'Allow'
          priority: 100
          tag: 'ServiceTag'
          ipAddress: 'AzureFrontDoor.Backend'
          headers: {
            'x-azure-fdid': [
              frontDoorId
            ]
          }
        }
        {
          name: 'event-grid'
          description: 'Blob-created events for the uploads trigger'
          action: 'Allow'
          priority: 200
          tag: 'ServiceTag'
          ipAddress: 'AzureEventGrid'
        }
      ]
      // The deployment (scm) site keeps its own, open rules: azd publishes there with an Entra token.
      scmIpSecurityRestrictionsUseMain: false
      scmIpSecurityRestrictionsDefaultAction: 'Allow'
    }
  }
}

// Every setting the code reads (shared/config.py) plus what the host and azure-identity need.
// Secrets are Key Vault references; storage is identity-based (no AzureWebJobsStorage string).
resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: functionApp
  name: 'appsettings'
  properties: {
    // Host storage through the managed identity; the explicit service URIs let the Flex scale
    // controller read Durable queues and the blob trigger's queues with the same identity.
    AzureWebJobsStorage__accountName: storageAccountName
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identityClientId
    AzureWebJobsStorage__blobServiceUri: storageBlobEndpoint
    AzureWebJobsStorage__queueServiceUri: storageQueueEndpoint
    AzureWebJobsStorage__tableServiceUri: storageTableEndpoint
    // DefaultAzureCredential in shared/ picks the user-assigned identity by this client id.
    AZURE_CLIENT_ID: identityClientId
    APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
    STELLY_ENV: 'production'
    DATABASE_URL: '@Microsoft.KeyVault(SecretUri=${databaseUrlSecretUri})'
    DATABASE_POOL_MAX: string(databasePoolMax)
    WEBPUBSUB_ENDPOINT: webPubSubEndpoint
    WEBPUBSUB_HUB: webPubSubHub
    AUTH_ISSUER: authIssuer
    AUTH_AUDIENCE: authAudience
    AUTH_JWKS_URL: authJwksUrl
    PLATFORM_DOMAIN: platformDomain
    FRONTDOOR_ID: frontDoorId
    QR_SIGNING_KEY: '@Microsoft.KeyVault(SecretUri=${qrSigningKeySecretUri})'
    ASSETS_BASE_URL: assetsBaseUrl
    ORDER_RATE_LIMIT_PER_MINUTE: '30'
  }
}

output name string = functionApp.name
