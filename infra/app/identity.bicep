// The Function App's user-assigned identity. User-assigned (not system-assigned) so role
// assignments exist before the app starts and survive re-creating the app.
param name string
param location string
param tags object

// The principal every data-plane role in this template is granted to; no keys or connection strings.
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
