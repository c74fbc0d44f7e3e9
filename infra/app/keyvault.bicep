// Key Vault (RBAC mode) for the app's secrets. The Function App resolves them through Key Vault
// references with its user-assigned identity, so no secret value is stored in app settings.
param name string
param location string
param tags object

@description('Principal of the Function App identity (reads secrets at start-up).')
param appPrincipalId string

@description('Principal running azd; empty skips its assignment. azd reads the Postgres password back on re-provision.')
param deployerPrincipalId string = ''

@allowed(['User', 'ServicePrincipal'])
param deployerPrincipalType string = 'User'

@secure()
param qrSigningKey string

@secure()
param postgresAdminPassword string

@secure()
@description('Complete libpq URL including the password; becomes DATABASE_URL.')
param databaseUrl string

// Key Vault Secrets User: read secret values, nothing else.
var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
// Key Vault Certificates Officer: import the *.<platformDomain> certificate (infra/README.md).
var keyVaultCertificatesOfficer = 'a4417e6f-fecd-4de8-b567-7b0420556985'

// The vault. RBAC instead of access policies so permissions are ordinary role assignments;
// no purge protection so `azd down --purge` can remove a throwaway environment.
resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
  }
}

// QR_SIGNING_KEY: signs table QR tokens; a Key Vault reference keeps it out of the portal and ARM history.
resource qrSigningKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'qr-signing-key'
  properties: {
    value: qrSigningKey
    contentType: 'text/plain'
  }
}

// DATABASE_URL: the full connection URL, so rotating the password is one secret and an app restart.
resource databaseUrlSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'database-url'
  properties: {
    value: databaseUrl
    contentType: 'text/plain'
  }
}

// Where azd's secretOrRandomPassword finds the Postgres password on the next `azd provision`.
resource postgresPasswordSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'postgres-admin-password'
  properties: {
    value: postgresAdminPassword
    contentType: 'text/plain'
  }
}

// The app identity reads the secrets behind its Key Vault references.
resource appSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, appPrincipalId, keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// The deployer reads the Postgres password back, so re-provisioning does not rotate it by accident.
resource deployerSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(vault.id, deployerPrincipalId, keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}

// The deployer imports the wildcard certificate: in RBAC mode not even a subscription Owner may.
resource deployerCertificatesOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(vault.id, deployerPrincipalId, keyVaultCertificatesOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultCertificatesOfficer)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}

output name string = vault.name
// Versionless URIs: a new secret version is picked up on the next restart without redeploying settings.
output qrSigningKeySecretUri string = qrSigningKeySecret.properties.secretUri
output databaseUrlSecretUri string = databaseUrlSecret.properties.secretUri
