// Event Grid feeding the uploads blob trigger. Flex Consumption only supports the Event Grid source
// for blob triggers: the app declares `source="EventGrid"` and the blob extension exposes a webhook
// at /runtime/webhooks/blobs, authenticated by the host's `blobs_extension` system key.
//
// The subscription is created only once the code is deployed: Event Grid validates the webhook when
// the subscription is created, and the system key exists only after the host has loaded a blob
// trigger. azure.yaml's postdeploy hook turns subscriptionEnabled on and provisions again.
param systemTopicName string
param location string
param tags object
param storageAccountName string
param uploadsContainerName string
param deadLetterContainerName string
param functionAppName string

@description('Python function name of the blob trigger (Host.Functions.<name> in the webhook URL).')
param uploadsFunctionName string

param subscriptionEnabled bool

// The host reads a triggering blob whole into memory before the function can look at its size
// (an InputStream binding), so a huge file PUT with an upload URL would be read in full, and again
// on every retry. Files up to this size are delivered and refused by the app with a
// clear reason (images are limited to 10 MB, shared/images/limits.py); larger ones are never
// delivered, and storage.bicep's lifecycle rule deletes them.
@description('Largest upload, in bytes, the blob trigger is handed (64 MiB).')
param maxDeliveredUploadBytes int = 67108864

// Storage Blob Data Contributor: the system topic writes undeliverable events to the dead-letter container.
var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

// The account whose blob events we subscribe to.
resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

// The app whose blob extension receives the events.
resource functionApp 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

// The storage account's event source; its identity writes dead letters without account keys.
resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: systemTopicName
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: storage.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

// The topic identity may write blobs (dead letters) to this account.
resource deadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, systemTopic.id, storageBlobDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
    principalId: systemTopic.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

// BlobCreated in `uploads` -> the blob trigger, one event per delivery (one image per invocation).
// Retries for 24 hours, then dead-letters; the app's own poison handling covers failures after delivery.
resource uploadsSubscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = if (subscriptionEnabled) {
  parent: systemTopic
  name: 'uploads-to-blob-trigger'
  properties: {
    eventDeliverySchema: 'EventGridSchema'
    destination: {
      endpointType: 'WebHook'
      properties: {
        // Behind the condition's ternary: ARM evaluates list*() even for a resource whose `if` is
        // false, and before the first deploy the host has no blobs_extension key to list.
        endpointUrl: subscriptionEnabled ? 'https://${functionApp.properties.defaultHostName}/runtime/webhooks/blobs?functionName=Host.Functions.${uploadsFunctionName}&code=${listKeys('${functionApp.id}/host/default', '2024-04-01').systemKeys.blobs_extension}' : ''
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    filter: {
      includedEventTypes: [
        'Microsoft.Storage.BlobCreated'
      ]
      subjectBeginsWith: '/blobServices/default/containers/${uploadsContainerName}/'
      advancedFilters: [
        {
          operatorType: 'NumberLessThanOrEquals'
          key: 'data.contentLength'
          value: maxDeliveredUploadBytes
        }
      ]
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: storage.id
          blobContainerName: deadLetterContainerName
        }
      }
    }
  }
  dependsOn: [
    deadLetterWriter
  ]
}
