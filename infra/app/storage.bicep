// One general-purpose v2 account for everything blob/queue/table: the Functions host (keys, leases,
// Durable task hub queues and history, which the runtime creates itself), the Flex deployment
// package, images, and the tables the app reads on every request. Shared keys are disabled: every
// caller, including the host, authenticates with Entra ID.
param name string
param location string
param tags object

@description('Container Flex Consumption deploys the app package to.')
param deploymentContainerName string

@description('Principal of the Function App identity.')
param appPrincipalId string

@description('Days a refused upload stays in uploads-quarantine.')
param quarantineRetentionDays int = 30

@description('Days an upload the trigger never took (too large to deliver, or failed for good) stays in uploads.')
param staleUploadRetentionDays int = 7

var uploadsContainerName = 'uploads'
var assetsContainerName = 'assets'
var deadLetterContainerName = 'uploads-deadletter'

// Built-in roles the app identity holds on this account (ids from the Azure built-in roles list).
var appRoleIds = [
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // Storage Blob Data Owner: host leases and keys, deployment package, uploads, assets
  '974c5e8b-45b9-4653-ba55-5f855dd0fb88' // Storage Queue Data Contributor: Durable Functions control and work-item queues, blob trigger poison queue
  '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // Storage Table Data Contributor: tenant directory, provisioning audit, Durable history and instances
  'db58b8e5-c6ad-4a2a-8342-4190687cbf4a' // Storage Blob Delegator: user-delegation keys for the SAS the admin app uploads images with
]

// The account itself. Blob public access is allowed only so the `assets` container (published image
// renditions, nothing private) can be read anonymously by Front Door; every other container is private.
resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    allowBlobPublicAccess: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    dnsEndpointType: 'Standard'
    networkAcls: {
      // Flex Consumption outbound addresses are not fixed, and Event Grid delivers dead letters from Azure.
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

// Blob service settings: browsers PUT originals straight into `uploads` with a short-lived SAS,
// which needs CORS; soft delete gives a week to undo an accidental delete of an image.
resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    cors: {
      corsRules: [
        {
          // Any origin: the SAS (one blob, write-only, minutes long) is the authorisation, and tenants
          // bring their own domains, so there is no fixed list to name here.
          allowedOrigins: ['*']
          allowedMethods: ['PUT', 'GET', 'HEAD', 'OPTIONS']
          allowedHeaders: ['*']
          exposedHeaders: ['ETag', 'x-ms-request-id']
          maxAgeInSeconds: 3600
        }
      ]
    }
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

// Originals as uploaded by managers; the Event Grid blob trigger turns them into renditions.
resource uploadsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: uploadsContainerName
  properties: {
    publicAccess: 'None'
  }
}

// Published renditions and logos. Blob-level public read (no listing): served and cached by Front
// Door under /assets/*, which is what ASSETS_BASE_URL points at.
resource assetsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: assetsContainerName
  properties: {
    publicAccess: 'Blob'
  }
}

// The zip Flex Consumption runs from; written by `azd deploy`, read by the platform with the app identity.
resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

// Upload events Event Grid could not deliver within its retry window, kept for inspection and replay.
resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deadLetterContainerName
  properties: {
    publicAccess: 'None'
  }
}

// Refused uploads (`uploads-quarantine`, created by the app) are kept a month for an operator to
// see why a photo was refused, then deleted: they are a manager's original files, camera and GPS
// metadata included, and nothing else ever removes them. The trigger empties `uploads` as it goes;
// what stays there (an upload Event Grid was told not to deliver, see events.bicep, or one whose
// processing failed for good) goes after a week, time for an operator to replay it.
resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'expire-quarantined-uploads'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: ['blockBlob']
              prefixMatch: ['uploads-quarantine/']
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterModificationGreaterThan: quarantineRetentionDays
                }
              }
            }
          }
        }
        {
          name: 'expire-stale-uploads'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: ['blockBlob']
              prefixMatch: ['${uploadsContainerName}/']
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterModificationGreaterThan: staleUploadRetentionDays
                }
              }
            }
          }
        }
      ]
    }
  }
}

// Table service parent for the two tables the app owns (Durable's tables are created by the runtime).
resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

// Domain -> tenant records read on every request behind the in-process cache (partition = domain).
resource tenantDirectoryTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: 'tenantdirectory'
}

// Audit trail of provision/deprovision/migrate operations (partition = tenant slug).
resource provisioningAuditTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: 'provisioningaudit'
}

// The app identity gets each role in appRoleIds on the whole account (the host needs all three services).
resource appRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in appRoleIds: {
  name: guid(storage.id, appPrincipalId, roleId)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}]

output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
output tableEndpoint string = storage.properties.primaryEndpoints.table
output blobHostName string = '${storage.name}.blob.${environment().suffixes.storage}'
output uploadsContainerName string = uploadsContainer.name
output deadLetterContainerName string = deadLetterContainer.name
