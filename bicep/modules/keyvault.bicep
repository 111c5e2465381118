// Key Vault (RBAC mode) for the settings that are secrets: the bring-your-own Elasticsearch
// cluster's URL (it may embed credentials) and API key. App settings reference them with
// @Microsoft.KeyVault(...), resolved by the app's managed identity; no secret value is an
// app setting, a parameter file entry or an output.
// Built-in role definition ids (Azure built-in roles reference).
var roleIds = {
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
}

param name string
param location string
param tags object
param appPrincipalId string
@secure()
param elasticsearchUrl string
@secure()
param elasticsearchApiKey string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  //checkov:skip=CKV_AZURE_109:default action Allow: Key Vault references are resolved by the platform for an app without VNet; no VNet or private endpoints in this setup (each private endpoint bills while idle; Flex without VNet integration reaches services over public endpoints); access needs an Entra token and a role, since keys/local auth are off
  //checkov:skip=CKV_AZURE_189:public endpoint kept: no VNet or private endpoints in this setup (each private endpoint bills while idle; Flex without VNet integration reaches services over public endpoints); access needs an Entra token and a role, since keys/local auth are off
  //checkov:skip=CKV_AZURE_110:no purge protection so a torn-down environment can be purged and re-created under the same name (docs/DEPLOY.md); the vault only holds re-issuable credentials
  //checkov:skip=CKV_AZURE_42:soft delete is on (7 days); this check also demands purge protection, left off for the reason given for CKV_AZURE_110
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

// An empty value means "keep what the vault holds": re-deployments (CI) need not carry the
// secret again once a person has stored it.
resource esUrl 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(elasticsearchUrl)) {
  //checkov:skip=CKV_AZURE_41:a cluster URL does not expire; an expiry date would only break the Key Vault reference
  //checkov:skip=CKV_AZURE_114:false positive: contentType is set, but checkov does not read properties of conditional (if) resources
  parent: vault
  name: 'elasticsearch-url'
  properties: {
    value: elasticsearchUrl
    contentType: 'text/uri'
  }
}

resource esApiKey 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(elasticsearchApiKey)) {
  //checkov:skip=CKV_AZURE_41:the API key's lifetime is set in Elasticsearch, which enforces it; a second expiry here would break the reference without rotating the key
  //checkov:skip=CKV_AZURE_114:false positive: contentType is set, but checkov does not read properties of conditional (if) resources
  parent: vault
  name: 'elasticsearch-api-key'
  properties: {
    value: elasticsearchApiKey
    contentType: 'text/plain'
  }
}

resource appReadsSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: vault
  name: guid(vault.id, appPrincipalId, roleIds.keyVaultSecretsUser)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.keyVaultSecretsUser)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
