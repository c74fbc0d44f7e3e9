// Deployed only with postgresPrivateAccess: a VNet with one subnet the Function App integrates with
// (outbound) and one delegated to Postgres, plus the private DNS zone that resolves the server.
param name string
param location string
param tags object

var appSubnetName = 'app'
var postgresSubnetName = 'postgres'

// Private address space shared by the Function App's outbound traffic and the Postgres server.
resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: ['10.20.0.0/16']
    }
    subnets: [
      {
        // Flex Consumption VNet integration requires delegation to Microsoft.App/environments.
        name: appSubnetName
        properties: {
          addressPrefix: '10.20.0.0/24'
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
      {
        // A Flexible Server with private access lives in a subnet delegated to it alone.
        name: postgresSubnetName
        properties: {
          addressPrefix: '10.20.1.0/24'
          delegations: [
            {
              name: 'postgres-flexible-server'
              properties: {
                serviceName: 'Microsoft.DBforPostgreSQL/flexibleServers'
              }
            }
          ]
        }
      }
    ]
  }
}

// Resolves the server's host name to its private address; the name must end in postgres.database.azure.com.
resource postgresDnsZone 'Microsoft.Network/privateDnsZones@2024-06-01' = {
  name: 'privatelink.postgres.database.azure.com'
  location: 'global'
  tags: tags
}

// Makes the zone visible to everything in the VNet, including the Function App's integrated traffic.
resource postgresDnsLink 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = {
  parent: postgresDnsZone
  name: '${name}-link'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnet.id
    }
  }
}

output appSubnetId string = '${vnet.id}/subnets/${appSubnetName}'
output postgresSubnetId string = '${vnet.id}/subnets/${postgresSubnetName}'
// Module outputs exist only once the whole module is done, so the server (which Azure requires to
// find the zone already linked) is created after postgresDnsLink.
output privateDnsZoneId string = postgresDnsZone.id
