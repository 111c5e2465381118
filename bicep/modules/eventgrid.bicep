// Event Grid custom topic for inventory events. CloudEvents 1.0 in, no access keys: the app
// publishes with an Entra token (EventGrid Data Sender). The topic has its own identity so it
// can dead-letter into storage, whose shared keys are off.
// Built-in role definition ids (Azure built-in roles reference).
var roleIds = {
  eventGridDataSender: 'd5a91429-5739-47e2-a06b-3470a27159e7'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
}

param name string
param location string
param tags object
param appPrincipalId string
param storageAccountName string

resource topic 'Microsoft.EventGrid/topics@2022-06-15' = {
  //checkov:skip=CKV_AZURE_193:public endpoint kept: no VNet or private endpoints in this setup (each private endpoint bills while idle; Flex without VNet integration reaches services over public endpoints); access needs an Entra token and a role, since keys/local auth are off
  name: name
  location: location
  tags: tags
  identity: { type: 'SystemAssigned' }
  properties: {
    inputSchema: 'CloudEventSchemaV1_0'
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
  }
}

resource appSends 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: topic
  name: guid(topic.id, appPrincipalId, roleIds.eventGridDataSender)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.eventGridDataSender)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource topicDeadLetters 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: storage
  name: guid(storage.id, topic.id, roleIds.storageBlobDataContributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataContributor)
    principalId: topic.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

output name string = topic.name
output id string = topic.id
output endpoint string = topic.properties.endpoint
