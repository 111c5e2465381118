// Storage for the Functions host (AzureWebJobsStorage, identity-based), the Flex deployment
// container the app package is uploaded to, and Event Grid's dead-letter container.
// Shared keys are off: every client (host, deployment, Event Grid) authenticates with Entra.
param name string
param location string
param tags object
param deploymentContainerName string
param deadLetterContainerName string

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  //checkov:skip=CKV_AZURE_35:default action Allow: no VNet or private endpoints in this setup (each private endpoint bills while idle; Flex without VNet integration reaches services over public endpoints); access needs an Entra token and a role, since keys/local auth are off
  //checkov:skip=CKV_AZURE_59:public endpoint kept: no VNet or private endpoints in this setup (each private endpoint bills while idle; Flex without VNet integration reaches services over public endpoints); access needs an Entra token and a role, since keys/local auth are off
  //checkov:skip=CKV_AZURE_206:LRS is enough: the account holds host leases, the re-deployable package and dead letters; the data of record is in Cosmos DB
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: { enabled: true, days: 7 }
    containerDeleteRetentionPolicy: { enabled: true, days: 7 }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobs
  name: deploymentContainerName
  properties: { publicAccess: 'None' }
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobs
  name: deadLetterContainerName
  properties: { publicAccess: 'None' }
}

output id string = account.id
output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
