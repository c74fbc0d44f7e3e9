// Azure Web PubSub (Standard) with the `kitchen` hub. Access keys are disabled: the app publishes
// and mints client tokens through the REST API with its managed identity (WEBPUBSUB_ENDPOINT).
param name string
param location string
param tags object
param hubName string

@description('Principal allowed to publish and mint client tokens (the Function App identity).')
param ownerPrincipalId string

// Web PubSub Service Owner: full data-plane access (send to groups, generate client tokens).
var webPubSubServiceOwner = '12cf5a90-567b-43ae-8102-96cf46c7d9b4'

// The service. Standard S1 = 1,000 concurrent connections, an SLA, and no hard cap at 20 like Free.
resource webPubSub 'Microsoft.SignalRService/webPubSub@2024-03-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Standard_S1'
    tier: 'Standard'
    capacity: 1
  }
  properties: {
    disableLocalAuth: true
    disableAadAuth: false
    publicNetworkAccess: 'Enabled'
    tls: {
      clientCertEnabled: false
    }
  }
}

// Kitchen displays and customers join groups here with tokens the app mints; no upstream events,
// since clients never send through the service (state changes go through the HTTP API).
resource hub 'Microsoft.SignalRService/webPubSub/hubs@2024-03-01' = {
  parent: webPubSub
  name: hubName
  properties: {
    anonymousConnectPolicy: 'deny'
    eventHandlers: []
  }
}

// The app identity owns the data plane of this service and nothing else.
resource ownerRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(webPubSub.id, ownerPrincipalId, webPubSubServiceOwner)
  scope: webPubSub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', webPubSubServiceOwner)
    principalId: ownerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output endpoint string = 'https://${webPubSub.properties.hostName}'
output hubName string = hub.name
