// Azure Front Door Premium: the single public entrance for every tenant.
//
//   https://<slug>.<platformDomain>/api/*     -> Function App (caching only for store config and menu)
//   https://<slug>.<platformDomain>/assets/*  -> `assets` blob container (cached)
//   https://<slug>.<platformDomain>/*         -> static storefront (cached)
//
// Front Door rewrites Host to the origin's name (App Service routes on it) and passes the name the
// customer typed as X-Forwarded-Host, plus X-Azure-FDID = this profile's id. The app trusts
// X-Forwarded-Host only when X-Azure-FDID equals FRONTDOOR_ID, and the Function App's access
// restriction admits only Front Door's backend addresses carrying that same header.
param profileName string
param endpointName string
param wafPolicyName string
param tags object
param platformDomain string
param functionAppHostName string
param assetsOriginHostName string

@description('Static storefront host; empty leaves out the /* route.')
param storefrontOriginHostName string = ''

@description('Key Vault holding the wildcard certificate.')
param keyVaultName string

@description('Certificate name in that vault; empty deploys no custom domain.')
param wildcardCertificateName string = ''

@description('Restaurants\' own domains; each gets a custom domain with a Front Door managed certificate.')
param restaurantDomains array = []

@allowed(['Prevention', 'Detection'])
param wafMode string

param apiRateLimitPerMinute int

var hasCustomDomain = !empty(wildcardCertificateName)
var hasStorefront = !empty(storefrontOriginHostName)
// Key Vault Secrets User: Front Door reads the certificate (stored as a secret) with its identity.
var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
// Associations of the WAF policy and routes: the azurefd.net endpoint always, the tenant wildcard when
// configured, and every restaurant's own domain. ARM replaces these lists on each deployment, so a
// domain attached by hand would be detached again: restaurant domains come in as a parameter.
var restaurantDomainIds = [for (domain, i) in restaurantDomains: { id: restaurantDomain[i].id }]
var customDomainIds = concat(hasCustomDomain ? [{ id: wildcardDomain.id }] : [], restaurantDomainIds)
var compressibleTypes = [
  'application/javascript'
  'application/json'
  'image/svg+xml'
  'text/css'
  'text/html'
  'text/plain'
]

// The profile. Premium for the managed WAF rule sets and bot protection; its frontDoorId is FRONTDOOR_ID.
resource profile 'Microsoft.Cdn/profiles@2024-02-01' = {
  name: profileName
  location: 'global'
  tags: tags
  sku: {
    name: 'Premium_AzureFrontDoor'
  }
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    originResponseTimeoutSeconds: 60
  }
}

// The endpoint (<name>-<hash>.azurefd.net); tenant DNS records CNAME to it.
resource endpoint 'Microsoft.Cdn/profiles/afdEndpoints@2024-02-01' = {
  parent: profile
  name: endpointName
  location: 'global'
  tags: tags
  properties: {
    enabledState: 'Enabled'
  }
}

// The vault that holds the wildcard certificate, so Front Door can be granted read access to it.
resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

// Front Door's own identity reads the wildcard certificate (Front Door never issues managed certificates for wildcards).
resource certificateReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (hasCustomDomain) {
  name: guid(vault.id, profile.id, keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: profile.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

// The wildcard certificate as a Front Door secret; latest version, so renewals in Key Vault roll out by themselves.
resource wildcardCertificate 'Microsoft.Cdn/profiles/secrets@2024-02-01' = if (hasCustomDomain) {
  parent: profile
  name: 'wildcard-certificate'
  properties: {
    parameters: {
      type: 'CustomerCertificate'
      secretSource: {
        id: '${vault.id}/secrets/${wildcardCertificateName}'
      }
      useLatestVersion: true
    }
  }
  dependsOn: [
    certificateReader
  ]
}

// *.<platformDomain>: every tenant subdomain without touching Front Door when a tenant is added.
// Ownership is proven once with the TXT record in FRONTDOOR_DOMAIN_VALIDATION_TOKEN.
resource wildcardDomain 'Microsoft.Cdn/profiles/customDomains@2024-02-01' = if (hasCustomDomain) {
  parent: profile
  name: 'tenant-wildcard'
  properties: {
    hostName: '*.${platformDomain}'
    tlsSettings: {
      certificateType: 'CustomerCertificate'
      minimumTlsVersion: 'TLS12'
      secret: {
        id: wildcardCertificate.id
      }
    }
  }
}

// A restaurant's own domain (menu.pizzeria.it). Front Door issues and renews its certificate once
// the TXT record _dnsauth.<domain> holds the validation token (RESTAURANT_DOMAIN_VALIDATION).
resource restaurantDomain 'Microsoft.Cdn/profiles/customDomains@2024-02-01' = [for domain in restaurantDomains: {
  parent: profile
  name: 'restaurant-${replace(domain, '.', '-')}'
  properties: {
    hostName: domain
    tlsSettings: {
      certificateType: 'ManagedCertificate'
      minimumTlsVersion: 'TLS12'
    }
  }
}]

// The Function App's origin group. No health probes: with one origin they cannot fail over anywhere,
// and a probe every few seconds from every Front Door POP would keep Flex from scaling to zero.
resource apiOriginGroup 'Microsoft.Cdn/profiles/originGroups@2024-02-01' = {
  parent: profile
  name: 'api'
  properties: {
    loadBalancingSettings: {
      sampleSize: 4
      successfulSamplesRequired: 3
      additionalLatencyInMilliseconds: 50
    }
    sessionAffinityState: 'Disabled'
  }
}

// The Function App. Host header = its own name (App Service routes on it); the tenant's host travels as X-Forwarded-Host.
resource apiOrigin 'Microsoft.Cdn/profiles/originGroups/origins@2024-02-01' = {
  parent: apiOriginGroup
  name: 'function-app'
  properties: {
    hostName: functionAppHostName
    originHostHeader: functionAppHostName
    httpPort: 80
    httpsPort: 443
    priority: 1
    weight: 1000
    enabledState: 'Enabled'
    enforceCertificateNameCheck: true
  }
}

// The assets origin group (published images); one origin, so no probes either.
resource assetsOriginGroup 'Microsoft.Cdn/profiles/originGroups@2024-02-01' = {
  parent: profile
  name: 'assets'
  properties: {
    loadBalancingSettings: {
      sampleSize: 4
      successfulSamplesRequired: 3
      additionalLatencyInMilliseconds: 50
    }
    sessionAffinityState: 'Disabled'
  }
}

// The blob endpoint; /assets/<path> maps unchanged onto container `assets`, blob <path>.
resource assetsOrigin 'Microsoft.Cdn/profiles/originGroups/origins@2024-02-01' = {
  parent: assetsOriginGroup
  name: 'blob-storage'
  properties: {
    hostName: assetsOriginHostName
    originHostHeader: assetsOriginHostName
    httpPort: 80
    httpsPort: 443
    priority: 1
    weight: 1000
    enabledState: 'Enabled'
    enforceCertificateNameCheck: true
  }
}

// The static storefront's origin group (one storefront build serves every tenant).
resource storefrontOriginGroup 'Microsoft.Cdn/profiles/originGroups@2024-02-01' = if (hasStorefront) {
  parent: profile
  name: 'storefront'
  properties: {
    loadBalancingSettings: {
      sampleSize: 4
      successfulSamplesRequired: 3
      additionalLatencyInMilliseconds: 50
    }
    sessionAffinityState: 'Disabled'
  }
}

// The storefront host, e.g. a storage static website (<account>.z6.web.core.windows.net).
resource storefrontOrigin 'Microsoft.Cdn/profiles/originGroups/origins@2024-02-01' = if (hasStorefront) {
  parent: storefrontOriginGroup
  name: 'static-site'
  properties: {
    hostName: storefrontOriginHostName
    originHostHeader: storefrontOriginHostName
    httpPort: 80
    httpsPort: 443
    priority: 1
    weight: 1000
    enabledState: 'Enabled'
    enforceCertificateNameCheck: true
  }
}

// Edge-caching rules for the API route, which otherwise caches nothing.
resource storeCacheRules 'Microsoft.Cdn/profiles/ruleSets@2024-02-01' = {
  parent: profile
  name: 'StoreCache'
}

// Cache GET /api/v1/store/config and /api/v1/store/menu for as long as the app's Cache-Control says
// (HonorOrigin; ETags keep revalidation cheap). Front Door keys cached objects by the requested host
// as well as the path (which is also why purging a wildcard domain needs concrete subdomains), so
// pizza.<domain> and sushi.<domain> never share an entry; the query string is part of the key too.
resource cacheStoreConfigAndMenu 'Microsoft.Cdn/profiles/ruleSets/rules@2024-02-01' = {
  parent: storeCacheRules
  name: 'CacheStoreConfigAndMenu'
  properties: {
    order: 1
    conditions: [
      {
        name: 'UrlPath'
        parameters: {
          typeName: 'DeliveryRuleUrlPathMatchConditionParameters'
          // EndsWith matches whether or not Front Door includes the leading slash in the compared path.
          operator: 'EndsWith'
          negateCondition: false
          matchValues: [
            'v1/store/config'
            'v1/store/menu'
          ]
          transforms: [
            'Lowercase'
          ]
        }
      }
    ]
    actions: [
      {
        name: 'RouteConfigurationOverride'
        parameters: {
          typeName: 'DeliveryRuleRouteConfigurationOverrideActionParameters'
          cacheConfiguration: {
            cacheBehavior: 'HonorOrigin'
            queryStringCachingBehavior: 'UseQueryString'
            isCompressionEnabled: 'Enabled'
          }
        }
      }
    ]
    matchProcessingBehavior: 'Stop'
  }
}

// /api/* to the Function App over HTTPS. No route-level cache: only the rule set above caches.
resource apiRoute 'Microsoft.Cdn/profiles/afdEndpoints/routes@2024-02-01' = {
  parent: endpoint
  name: 'api'
  properties: {
    originGroup: {
      id: apiOriginGroup.id
    }
    customDomains: customDomainIds
    ruleSets: [
      {
        id: storeCacheRules.id
      }
    ]
    patternsToMatch: [
      '/api/*'
    ]
    supportedProtocols: [
      'Http'
      'Https'
    ]
    forwardingProtocol: 'HttpsOnly'
    httpsRedirect: 'Enabled'
    linkToDefaultDomain: 'Enabled'
    enabledState: 'Enabled'
  }
  dependsOn: [
    apiOrigin
  ]
}

// /assets/* to blob storage, cached at the edge for as long as each blob's Cache-Control allows.
resource assetsRoute 'Microsoft.Cdn/profiles/afdEndpoints/routes@2024-02-01' = {
  parent: endpoint
  name: 'assets'
  properties: {
    originGroup: {
      id: assetsOriginGroup.id
    }
    customDomains: customDomainIds
    patternsToMatch: [
      '/assets/*'
    ]
    supportedProtocols: [
      'Http'
      'Https'
    ]
    forwardingProtocol: 'HttpsOnly'
    httpsRedirect: 'Enabled'
    linkToDefaultDomain: 'Enabled'
    enabledState: 'Enabled'
    cacheConfiguration: {
      queryStringCachingBehavior: 'IgnoreQueryString'
      compressionSettings: {
        isCompressionEnabled: true
        contentTypesToCompress: compressibleTypes
      }
    }
  }
  dependsOn: [
    assetsOrigin
  ]
}

// Everything else to the storefront; the most specific pattern wins, so /api/* and /assets/* never land here.
resource storefrontRoute 'Microsoft.Cdn/profiles/afdEndpoints/routes@2024-02-01' = if (hasStorefront) {
  parent: endpoint
  name: 'storefront'
  properties: {
    originGroup: {
      id: storefrontOriginGroup.id
    }
    customDomains: customDomainIds
    patternsToMatch: [
      '/*'
    ]
    supportedProtocols: [
      'Http'
      'Https'
    ]
    forwardingProtocol: 'HttpsOnly'
    httpsRedirect: 'Enabled'
    linkToDefaultDomain: 'Enabled'
    enabledState: 'Enabled'
    cacheConfiguration: {
      queryStringCachingBehavior: 'IgnoreQueryString'
      compressionSettings: {
        isCompressionEnabled: true
        contentTypesToCompress: compressibleTypes
      }
    }
  }
  dependsOn: [
    storefrontOrigin
  ]
}

// WAF: Microsoft's default rule set and bot manager, plus a per-client-IP rate limit on the API.
resource wafPolicy 'Microsoft.Network/FrontDoorWebApplicationFirewallPolicies@2024-02-01' = {
  name: wafPolicyName
  location: 'Global'
  tags: tags
  sku: {
    name: 'Premium_AzureFrontDoor'
  }
  properties: {
    policySettings: {
      enabledState: 'Enabled'
      mode: wafMode
      requestBodyCheck: 'Enabled'
    }
    managedRules: {
      managedRuleSets: [
        {
          ruleSetType: 'Microsoft_DefaultRuleSet'
          ruleSetVersion: '2.1'
          ruleSetAction: 'Block'
        }
        {
          ruleSetType: 'Microsoft_BotManagerRuleSet'
          ruleSetVersion: '1.0'
        }
      ]
    }
    customRules: {
      rules: [
        {
          // Order spam and scraping come from few addresses; the app's own 429s handle finer limits.
          name: 'ApiRateLimitPerClientIp'
          priority: 100
          enabledState: 'Enabled'
          ruleType: 'RateLimitRule'
          rateLimitDurationInMinutes: 1
          rateLimitThreshold: apiRateLimitPerMinute
          matchConditions: [
            {
              matchVariable: 'RequestUri'
              operator: 'Contains'
              negateCondition: false
              matchValue: [
                '/api/'
              ]
              transforms: [
                'Lowercase'
              ]
            }
          ]
          action: 'Block'
        }
      ]
    }
  }
}

// Attaches the WAF policy to every domain Front Door serves for us.
resource securityPolicy 'Microsoft.Cdn/profiles/securityPolicies@2024-02-01' = {
  parent: profile
  name: 'waf'
  properties: {
    parameters: {
      type: 'WebApplicationFirewall'
      wafPolicy: {
        id: wafPolicy.id
      }
      associations: [
        {
          domains: concat([{ id: endpoint.id }], customDomainIds)
          patternsToMatch: [
            '/*'
          ]
        }
      ]
    }
  }
}

output frontDoorId string = profile.properties.frontDoorId
output endpointHostName string = endpoint.properties.hostName
// TXT record _dnsauth.<platformDomain> must hold this until Front Door reports the domain Approved.
output customDomainValidationToken string = hasCustomDomain ? wildcardDomain.properties.validationProperties.validationToken : ''
// For each restaurant domain: the TXT record _dnsauth.<domain> must hold its token until Approved.
output restaurantDomainValidation array = [for (domain, i) in restaurantDomains: {
  domain: domain
  token: restaurantDomain[i].properties.validationProperties.validationToken
}]
