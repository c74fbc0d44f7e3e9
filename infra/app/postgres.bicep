// Azure Database for PostgreSQL Flexible Server with the `stelly` database.
//
// Authentication: password, kept in Key Vault and handed to the app as a Key Vault reference in
// DATABASE_URL. Entra ID tokens for the managed identity would remove the password, but they expire
// hourly and the app's pool takes a plain libpq URL; switching means giving shared/db.py a token
// callback first (see infra/README.md).
//
// Connections: max_connections follows the SKU (B1ms: 50, of which Azure reserves 15). main.bicep
// sizes DATABASE_POOL_MAX so that DATABASE_POOL_MAX x maximumInstanceCount stays inside what is left.
param name string
param location string
param tags object
param skuName string

@allowed(['Burstable', 'GeneralPurpose', 'MemoryOptimized'])
param skuTier string

param administratorLogin string

@secure()
param administratorPassword string

param databaseName string

@description('true: VNet-injected server without a public endpoint. false: public endpoint with the Azure-services firewall rule.')
param privateAccess bool

@description('Subnet delegated to Microsoft.DBforPostgreSQL/flexibleServers (private access only).')
param delegatedSubnetId string = ''

@description('Private DNS zone linked to that VNet (private access only).')
param privateDnsZoneId string = ''

// The server. Single zone, no HA, 7-day point-in-time restore: the cheapest shape that still backs up.
resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
    tier: skuTier
  }
  properties: {
    version: '16'
    administratorLogin: administratorLogin
    administratorLoginPassword: administratorPassword
    authConfig: {
      activeDirectoryAuth: 'Disabled'
      passwordAuth: 'Enabled'
    }
    storage: {
      storageSizeGB: 32
      autoGrow: 'Enabled'
    }
    backup: {
      backupRetentionDays: 7
      geoRedundantBackup: 'Disabled'
    }
    highAvailability: {
      mode: 'Disabled'
    }
    network: privateAccess ? {
      delegatedSubnetResourceId: delegatedSubnetId
      privateDnsZoneArmResourceId: privateDnsZoneId
      publicNetworkAccess: 'Disabled'
    } : {
      publicNetworkAccess: 'Enabled'
    }
  }
}

// The application database; tenant schemas are created inside it by the provisioning orchestration.
resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: server
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
}

// Public access only: Flex Consumption has no fixed outbound addresses, so the documented 0.0.0.0
// rule ("allow Azure services") is the narrowest rule that works; TLS and the password still apply.
// Choose private access to close the public endpoint entirely.
resource allowAzureServices 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = if (!privateAccess) {
  parent: server
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
}

output fullyQualifiedDomainName string = server.properties.fullyQualifiedDomainName
output databaseName string = database.name
