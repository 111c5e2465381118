// pieshop: every Azure resource the function app needs, in one resource group.
//
// Deployed by scripts/deploy.sh (which then publishes the code and deploys subscription.bicep:
// the Event Grid subscription needs the `projection` function to exist first).
// No secret is a parameter default, a parameter-file entry or an output.
targetScope = 'resourceGroup'

@description('Short lowercase prefix for resource names (3-11 letters/digits).')
@minLength(3)
@maxLength(11)
param namePrefix string = 'pieshop'

param location string = resourceGroup().location

@description('Cosmos DB serverless (pay per request, nothing at idle) or provisioned autoscale.')
param cosmosServerless bool = true

@description('Autoscale ceiling in RU/s when cosmosServerless is false (bills at least 10% of it hourly).')
param cosmosAutoscaleMaxThroughput int = 1000

@description('Bring-your-own Elasticsearch cluster URL, e.g. https://my-cluster.es.westeurope.azure.elastic-cloud.com. Stored in Key Vault. Empty keeps the stored value.')
@secure()
param elasticsearchUrl string = ''

@description('Elasticsearch API key (base64 "id:key" form). Stored in Key Vault. Empty keeps the stored value.')
@secure()
param elasticsearchApiKey string = ''

param elasticsearchIndexPrefix string = 'pieshop'

@description('Deploy Azure Cache for Redis as the query response cache (the app works without it).')
param enableRedis bool = true

@description('Entra ID auth for Redis (access keys disabled). false stores a key-bearing REDIS_URL in Key Vault instead.')
param redisEntraAuth bool = true

@allowed([ 'Basic', 'Standard', 'Premium' ])
param redisSkuName string = 'Basic'

param redisCapacity int = 0

@description('Deploy Azure SignalR Service for live push to dashboards (without it the handler answers negotiate with 503 and dashboards long-poll).')
param enableSignalR bool = true

@description('SignalR Service tier: Free_F1 allows 20 connections and 20,000 messages a day.')
@allowed([ 'Free_F1', 'Standard_S1', 'Premium_P1' ])
param signalrSkuName string = 'Standard_S1'

@description('Flex Consumption scale-out ceiling (instances).')
param maximumInstanceCount int = 40

@allowed([ 512, 2048, 4096 ])
param instanceMemoryMB int = 2048

param logRetentionInDays int = 30

@description('Log Analytics daily ingestion cap in GB.')
param logDailyQuotaGb int = 1

@description('RUST_LOG for the handler.')
param rustLog string = 'info'

param tags object = { app: 'pieshop' }

// Alerts (modules/alerts.bicep; what each means and what to run: docs/RUNBOOK.md).
@description('Resource id of an existing action group every alert notifies; empty: one is created for alertEmail.')
param alertActionGroupId string = ''
@description('Where the created action group sends alerts (used only when alertActionGroupId is empty).')
param alertEmail string = ''
@description('Alert when projection lag (recorded -> applied) exceeds this many milliseconds.')
param projectionLagThresholdMs int = 60000
@description('Alert when the oldest unpublished event is older than this many seconds.')
param outboxOldestAgeThresholdSeconds int = 300
@description('Alert when more events than this wait in the outbox. A relay pass that cannot publish counts one batch (at most 200), so keep this below 200.')
@maxValue(199)
param outboxBacklogThreshold int = 150
@description('Alert when the function app answers more 5xx than this in 5 minutes.')
param http5xxThreshold int = 5

// Globally unique names derive from the resource group, so a re-run targets the same resources.
var suffix = uniqueString(resourceGroup().id)
var storageName = take('${namePrefix}${suffix}', 24)
var appName = '${namePrefix}-${suffix}'
var keyVaultName = take('${namePrefix}-kv-${suffix}', 24)
var cosmosDatabase = 'pieshop'
var cosmosContainer = 'inventory'
var deploymentContainerName = 'app-package'
var deadLetterContainerName = 'eventgrid-deadletter'
var signalrName = '${namePrefix}-push-${suffix}'

// One user-assigned identity for every data-plane role: its client id goes to
// AZURE_CLIENT_ID so the handler's credential picks it, and it exists before the app does.
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${namePrefix}-id-${suffix}'
  location: location
  tags: tags
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    namePrefix: appName
    location: location
    tags: tags
    retentionInDays: logRetentionInDays
    dailyQuotaGb: logDailyQuotaGb
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: storageName
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    deadLetterContainerName: deadLetterContainerName
  }
}

module cosmos 'modules/cosmos.bicep' = {
  name: 'cosmos'
  params: {
    name: '${namePrefix}-cosmos-${suffix}'
    location: location
    tags: tags
    serverless: cosmosServerless
    autoscaleMaxThroughput: cosmosAutoscaleMaxThroughput
    databaseName: cosmosDatabase
    containerName: cosmosContainer
    appPrincipalId: identity.properties.principalId
  }
}

module eventGrid 'modules/eventgrid.bicep' = {
  name: 'eventgrid'
  params: {
    name: '${namePrefix}-events-${suffix}'
    location: location
    tags: tags
    appPrincipalId: identity.properties.principalId
    storageAccountName: storage.outputs.name
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    name: keyVaultName
    location: location
    tags: tags
    appPrincipalId: identity.properties.principalId
    elasticsearchUrl: elasticsearchUrl
    elasticsearchApiKey: elasticsearchApiKey
  }
}

module redis 'modules/redis.bicep' = if (enableRedis) {
  name: 'redis'
  params: {
    name: '${namePrefix}-redis-${suffix}'
    location: location
    tags: tags
    skuName: redisSkuName
    capacity: redisCapacity
    entraAuth: redisEntraAuth
    appPrincipalId: identity.properties.principalId
    keyVaultName: keyVault.outputs.name
  }
}

// App settings that resolve a Key Vault secret through the app's identity.
var kvRefPrefix = '@Microsoft.KeyVault(VaultName=${keyVault.outputs.name};SecretName='

// The handler's settings (see local.settings.json.example). Any of COSMOS_ENDPOINT /
// ELASTICSEARCH_URL set selects the Azure adapters.
var handlerSettings = {
  AZURE_CLIENT_ID: identity.properties.clientId
  RUST_LOG: rustLog
  COSMOS_ENDPOINT: cosmos.outputs.endpoint
  COSMOS_DATABASE: cosmosDatabase
  COSMOS_CONTAINER: cosmosContainer
  EVENTGRID_TOPIC_ENDPOINT: eventGrid.outputs.endpoint
  EVENTGRID_SCHEMA: 'cloudevents'
  ELASTICSEARCH_URL: '${kvRefPrefix}elasticsearch-url)'
  ELASTICSEARCH_API_KEY: '${kvRefPrefix}elasticsearch-api-key)'
  ELASTICSEARCH_INDEX_PREFIX: elasticsearchIndexPrefix
}

// With Entra the handler AUTHs to Redis as the identity's object id with a token for
// https://redis.azure.com/.default; with keys the whole URL is a Key Vault secret.
// Computed rather than taken from the module's output: the SignalR resource's CORS needs the app's host name, so the
// app cannot also wait for it.
var signalrSettings = !enableSignalR ? {} : {
  AZURE_SIGNALR_ENDPOINT: 'https://${signalrName}.service.signalr.net'
}

var redisSettings = !enableRedis ? {} : redisEntraAuth ? {
  REDIS_URL: 'rediss://${redis.outputs.hostName}:6380'
  REDIS_USERNAME: identity.properties.principalId
} : {
  REDIS_URL: '${kvRefPrefix}redis-url)'
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    name: appName
    location: location
    tags: tags
    identityId: identity.id
    identityClientId: identity.properties.clientId
    identityPrincipalId: identity.properties.principalId
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: deploymentContainerName
    appInsightsName: monitoring.outputs.appInsightsName
    appInsightsConnectionString: monitoring.outputs.connectionString
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    appSettings: union(handlerSettings, redisSettings, signalrSettings)
  }
}

module signalr 'modules/signalr.bicep' = if (enableSignalR) {
  name: 'signalr'
  params: {
    name: signalrName
    location: location
    tags: tags
    appPrincipalId: identity.properties.principalId
    appOrigin: 'https://${functionApp.outputs.defaultHostName}'
    skuName: signalrSkuName
  }
}

// Without a given action group, one of our own (with the e-mail receiver when alertEmail is set).
resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (empty(alertActionGroupId)) {
  name: '${appName}-ops'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'pieshopops'
    enabled: true
    emailReceivers: empty(alertEmail) ? [] : [
      { name: 'operator', emailAddress: alertEmail, useCommonAlertSchema: true }
    ]
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    namePrefix: appName
    location: location
    tags: tags
    actionGroupId: empty(alertActionGroupId) ? actionGroup.id : alertActionGroupId
    appInsightsId: monitoring.outputs.appInsightsId
    functionAppId: functionApp.outputs.id
    topicId: eventGrid.outputs.id
    projectionLagThresholdMs: projectionLagThresholdMs
    outboxOldestAgeThresholdSeconds: outboxOldestAgeThresholdSeconds
    outboxBacklogThreshold: outboxBacklogThreshold
    http5xxThreshold: http5xxThreshold
  }
}

// The operators' workbook over the same signals, per instance (docs/RUNBOOK.md, "Where each signal is seen").
module workbook 'modules/workbook.bicep' = {
  name: 'workbook'
  params: {
    location: location
    tags: tags
    appInsightsId: monitoring.outputs.appInsightsId
    functionAppId: functionApp.outputs.id
    topicId: eventGrid.outputs.id
    signalrId: enableSignalR ? resourceId('Microsoft.SignalRService/signalR', signalrName) : ''
  }
}

// Names for the scripts, and the function URLs (without keys: scripts/add-scanner.sh issues them).
output functionAppName string = functionApp.outputs.name
output eventGridTopicName string = eventGrid.outputs.name
output storageAccountName string = storage.outputs.name
output deadLetterContainerName string = deadLetterContainerName
output keyVaultName string = keyVault.outputs.name
output alertNames array = alerts.outputs.alertNames
output workbookId string = workbook.outputs.id
output commandUrl string = 'https://${functionApp.outputs.defaultHostName}/api/commands'
output queryUrl string = 'https://${functionApp.outputs.defaultHostName}/api/inventory'
output dashboardUrl string = 'https://${functionApp.outputs.defaultHostName}/api/dashboard'
output signalrEndpoint string = enableSignalR ? signalrSettings.AZURE_SIGNALR_ENDPOINT : ''
output healthUrl string = 'https://${functionApp.outputs.defaultHostName}/api/health'
