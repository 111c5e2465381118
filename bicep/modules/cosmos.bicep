// Cosmos DB (NoSQL) write model. Keys are disabled: the app reaches it with its managed
// identity and the built-in Data Contributor role. Entra identities cannot create databases
// or containers, so both are declared here, with the partition key and indexing the adapter
// relies on.
param name string
param location string
param tags object
param serverless bool
@description('Autoscale ceiling (RU/s) for the database when not serverless.')
param autoscaleMaxThroughput int
param databaseName string
param containerName string
param appPrincipalId string

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-11-15' = {
  //checkov:skip=CKV_AZURE_101:public endpoint kept: no VNet or private endpoints in this setup (each private endpoint bills while idle; Flex without VNet integration reaches services over public endpoints); access needs an Entra token and a role, since keys/local auth are off
  //checkov:skip=CKV_AZURE_99:no IP/VNet filter: Flex outbound addresses are shared and not fixed; no VNet or private endpoints in this setup (each private endpoint bills while idle; Flex without VNet integration reaches services over public endpoints); access needs an Entra token and a role, since keys/local auth are off
  name: name
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    locations: [
      { locationName: location, failoverPriority: 0, isZoneRedundant: false }
    ]
    consistencyPolicy: { defaultConsistencyLevel: 'Session' }
    capabilities: serverless ? [ { name: 'EnableServerless' } ] : []
    disableLocalAuth: true
    disableKeyBasedMetadataWriteAccess: true
    minimalTlsVersion: 'Tls12'
    publicNetworkAccess: 'Enabled'
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-11-15' = {
  parent: account
  name: databaseName
  properties: {
    resource: { id: databaseName }
    options: serverless ? {} : { autoscaleSettings: { maxThroughput: autoscaleMaxThroughput } }
  }
}

resource container 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-11-15' = {
  parent: database
  name: containerName
  properties: {
    resource: {
      id: containerName
      // pk = "{location}/{sku}" for items, "products/{sku}" for products: one item's state,
      // events and command markers share a partition, so a transactional batch covers them.
      partitionKey: { paths: [ '/pk' ], kind: 'Hash', version: 2 }
      // TTL on, nothing expiring by default: only command markers and claims carry a `ttl`
      // (the idempotency window, PIESHOP_IDEMPOTENCY_DAYS); states, events and movements stay.
      defaultTtl: -1
      // Only what the queries filter or sort on is indexed (the relay's unpublished-event
      // sweep and recency ordering, a late count's range of ledger movements by `mark`);
      // everything else is point reads by id + pk.
      indexingPolicy: {
        indexingMode: 'consistent'
        automatic: true
        includedPaths: [
          { path: '/kind/?' }
          { path: '/unpublished/?' }
          { path: '/recordedAt/?' }
          { path: '/mark/?' }
        ]
        excludedPaths: [
          { path: '/*' }
        ]
      }
    }
  }
}

// Built-in "Cosmos DB Built-in Data Contributor" (data plane, not an Azure RBAC role).
var dataContributorRoleId = '00000000-0000-0000-0000-000000000002'

resource appDataAccess 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-11-15' = {
  parent: account
  name: guid(account.id, appPrincipalId, dataContributorRoleId)
  properties: {
    roleDefinitionId: '${account.id}/sqlRoleDefinitions/${dataContributorRoleId}'
    principalId: appPrincipalId
    scope: account.id
  }
}

output endpoint string = account.properties.documentEndpoint
output name string = account.name
