// Azure SignalR Service for live push to open dashboards (hub `inventory`), in Serverless mode: the app only calls
// the data-plane REST API (:generateToken for negotiate, :send from the projection) with its managed identity, so
// local auth (access keys) is off and the identity holds SignalR REST API Owner, which has both dataActions
// (docs/protocol/push-deadletter-auth.md A2). Clients connect straight to the service; CORS admits only the app.
var roleIds = {
  signalrRestApiOwner: 'fd53cd77-2268-407a-8f46-7e7863d0f521'
}

param name string
param location string
param tags object
param appPrincipalId string
@description('The app origin browsers connect from, e.g. https://<app>.azurewebsites.net')
param appOrigin string
@allowed([ 'Free_F1', 'Standard_S1', 'Premium_P1' ])
param skuName string

resource signalr 'Microsoft.SignalRService/signalR@2024-03-01' = {
  name: name
  location: location
  tags: tags
  kind: 'SignalR'
  sku: { name: skuName, capacity: 1 }
  properties: {
    features: [
      { flag: 'ServiceMode', value: 'Serverless' }
    ]
    disableLocalAuth: true
    cors: { allowedOrigins: [ appOrigin ] }
    serverless: { connectionTimeoutInSeconds: 30 }
    publicNetworkAccess: 'Enabled'
    tls: { clientCertEnabled: false }
  }
}

resource appPushes 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: signalr
  name: guid(signalr.id, appPrincipalId, roleIds.signalrRestApiOwner)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.signalrRestApiOwner)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output name string = signalr.name
output endpoint string = 'https://${signalr.properties.hostName}'
