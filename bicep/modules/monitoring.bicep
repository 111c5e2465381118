// Log Analytics workspace + workspace-based Application Insights.
// Local (instrumentation-key) ingestion is off: the app sends telemetry with its managed identity.
param namePrefix string
param location string
param tags object
param retentionInDays int
@description('Daily ingestion cap (GB) so a log storm cannot run up the bill.')
param dailyQuotaGb int

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${namePrefix}-logs'
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: retentionInDays
    workspaceCapping: { dailyQuotaGb: dailyQuotaGb }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${namePrefix}-ai'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
  }
}

output appInsightsId string = appInsights.id
output appInsightsName string = appInsights.name
// The connection string only names the resource (ingestion needs Entra auth because
// DisableLocalAuth is true), so it is not a secret.
output connectionString string = appInsights.properties.ConnectionString
