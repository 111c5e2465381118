// Azure Cache for Redis for the query function's response cache. TLS only (port 6380).
// With Entra auth (every Basic/Standard/Premium cache supports it) access keys are disabled and
// the app AUTHs as its managed identity (username = its object id, password = an Entra token),
// granted by a data access policy. With entraAuth = false the access key is written into Key
// Vault as the REDIS_URL secret instead, never into an app setting or output.
param name string
param location string
param tags object
@allowed([ 'Basic', 'Standard', 'Premium' ])
param skuName string
param capacity int
param entraAuth bool
param appPrincipalId string
param keyVaultName string

resource cache 'Microsoft.Cache/redis@2024-11-01' = {
  //checkov:skip=CKV_AZURE_89:public endpoint kept (TLS only): no VNet or private endpoints in this setup (each private endpoint bills while idle; Flex without VNet integration reaches services over public endpoints); access needs an Entra token and a role, since keys/local auth are off
  name: name
  location: location
  tags: tags
  properties: {
    sku: {
      name: skuName
      family: skuName == 'Premium' ? 'P' : 'C'
      capacity: capacity
    }
    enableNonSslPort: false
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
    disableAccessKeyAuthentication: entraAuth
    redisConfiguration: {
      'aad-enabled': entraAuth ? 'true' : 'false'
    }
  }
}

resource appAccess 'Microsoft.Cache/redis/accessPolicyAssignments@2024-11-01' = if (entraAuth) {
  parent: cache
  name: guid(cache.id, appPrincipalId, 'Data Contributor')
  properties: {
    accessPolicyName: 'Data Contributor'
    objectId: appPrincipalId
    objectIdAlias: 'pieshop-app'
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource keyUrl 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!entraAuth) {
  //checkov:skip=CKV_AZURE_41:the value is the cache's access key, rotated with the cache keys; an expiry date would break the app without rotating anything
  //checkov:skip=CKV_AZURE_114:false positive: contentType is set, but checkov does not read properties of conditional (if) resources
  parent: vault
  name: 'redis-url'
  properties: {
    value: 'rediss://:${cache.listKeys().primaryKey}@${cache.properties.hostName}:6380'
    contentType: 'text/uri'
  }
}

output hostName string = cache.properties.hostName
