// The operators' workbook "pieshop operations", under the Application Insights resource's Workbooks: what the
// alerts watch (docs/RUNBOOK.md), charted over time and split per instance (cloud_RoleInstance), so an operator
// looks instead of writing queries. The app's own telemetry comes from Application Insights (the names the
// handler sends: docs/RUNBOOK.md, "Where each signal is seen"); dead letters, platform 5xx and push connections
// are the platform's metrics of the topic, the function app and SignalR Service.
// Sources: Microsoft.Insights/workbooks@2022-04-01 and the workbook item schema ("Notebook/1.0", "KqlItem/1.0",
// "MetricsItem/2.0"): Azure/bicep-types-az (microsoft.insights), Microsoft/Application-Insights-Workbooks.
param location string
param tags object
param appInsightsId string
param functionAppId string
param topicId string
@description('SignalR Service resource id; empty when push is off.')
param signalrId string = ''

// Log queries over Application Insights, each charted over time.
var appItems = [
  {
    type: 3
    content: {
      version: 'KqlItem/1.0'
      title: 'Commands per second, by outcome (anything but applied/adjusted/superseded/absorbed/duplicate is a refusal)'
      query: 'customMetrics | where name == "pieshop.commands" | extend outcome = tostring(customDimensions.outcome) | summarize PerSecond = sum(valueSum) / 300.0 by bin(timestamp, 5m), outcome'
      size: 0
      queryType: 0
      resourceType: 'microsoft.insights/components'
      visualization: 'timechart'
    }
  }
  {
    type: 3
    content: {
      version: 'KqlItem/1.0'
      title: 'Commands per second, per instance'
      query: 'customMetrics | where name == "pieshop.commands" | summarize PerSecond = sum(valueSum) / 300.0 by bin(timestamp, 5m), cloud_RoleInstance'
      size: 0
      queryType: 0
      resourceType: 'microsoft.insights/components'
      visualization: 'timechart'
    }
  }
  {
    type: 3
    content: {
      version: 'KqlItem/1.0'
      title: 'Projection lag (ms, worst), per instance'
      query: 'customMetrics | where name == "pieshop.projection.lag" | summarize LagMs = max(valueMax) by bin(timestamp, 5m), cloud_RoleInstance'
      size: 0
      queryType: 0
      resourceType: 'microsoft.insights/components'
      visualization: 'timechart'
    }
  }
  {
    type: 3
    content: {
      version: 'KqlItem/1.0'
      title: 'Outbox backlog (events waiting), per instance'
      query: 'customMetrics | where name == "pieshop.outbox.backlog" | summarize Backlog = max(valueMax) by bin(timestamp, 5m), cloud_RoleInstance'
      size: 0
      queryType: 0
      resourceType: 'microsoft.insights/components'
      visualization: 'timechart'
    }
  }
  {
    type: 3
    content: {
      version: 'KqlItem/1.0'
      title: 'Oldest unpublished event (s), per instance'
      query: 'customMetrics | where name == "pieshop.outbox.oldest_age" | summarize OldestAge = max(valueMax) by bin(timestamp, 5m), cloud_RoleInstance'
      size: 0
      queryType: 0
      resourceType: 'microsoft.insights/components'
      visualization: 'timechart'
    }
  }
  {
    type: 3
    content: {
      version: 'KqlItem/1.0'
      title: 'Drift found by verify (items)'
      query: 'customMetrics | where name == "pieshop.verify.drift" | summarize Drift = max(valueMax) by bin(timestamp, 1h)'
      size: 0
      queryType: 0
      resourceType: 'microsoft.insights/components'
      visualization: 'timechart'
    }
  }
  {
    type: 3
    content: {
      version: 'KqlItem/1.0'
      title: 'Malformed events dropped'
      query: 'customMetrics | where name == "pieshop.events.malformed" | summarize Malformed = sum(valueSum) by bin(timestamp, 15m)'
      size: 0
      queryType: 0
      resourceType: 'microsoft.insights/components'
      visualization: 'timechart'
    }
  }
  {
    type: 3
    content: {
      version: 'KqlItem/1.0'
      title: 'Server errors (5xx) by function, per instance'
      query: 'requests | where toint(resultCode) >= 500 | summarize Errors = count() by bin(timestamp, 5m), name, cloud_RoleInstance'
      size: 0
      queryType: 0
      resourceType: 'microsoft.insights/components'
      visualization: 'timechart'
    }
  }
]

// Platform metrics of one resource each (aggregation 1: total, 3: maximum).
var platformItems = [
  {
    type: 10
    content: {
      version: 'MetricsItem/2.0'
      title: 'Dead letters (Event Grid)'
      size: 0
      chartType: 2
      resourceType: 'microsoft.eventgrid/topics'
      metricScope: 0
      resourceIds: [topicId]
      timeContext: { durationMs: 86400000 }
      metrics: [{ namespace: 'microsoft.eventgrid/topics', metric: 'microsoft.eventgrid/topics--DeadLetteredCount', aggregation: 1 }]
    }
  }
  {
    type: 10
    content: {
      version: 'MetricsItem/2.0'
      title: 'Server errors (5xx, platform)'
      size: 0
      chartType: 2
      resourceType: 'microsoft.web/sites'
      metricScope: 0
      resourceIds: [functionAppId]
      timeContext: { durationMs: 86400000 }
      metrics: [{ namespace: 'microsoft.web/sites', metric: 'microsoft.web/sites--Http5xx', aggregation: 1 }]
    }
  }
]

var pushItems = empty(signalrId) ? [] : [
  {
    type: 10
    content: {
      version: 'MetricsItem/2.0'
      title: 'Push clients (SignalR connections)'
      size: 0
      chartType: 2
      resourceType: 'microsoft.signalrservice/signalr'
      metricScope: 0
      resourceIds: [signalrId]
      timeContext: { durationMs: 86400000 }
      metrics: [{ namespace: 'microsoft.signalrservice/signalr', metric: 'microsoft.signalrservice/signalr--ConnectionCount', aggregation: 3 }]
    }
  }
]

var workbookContent = {
  version: 'Notebook/1.0'
  items: concat([{ type: 1, content: { json: '## pieshop operations\nWhat the alerts watch (docs/RUNBOOK.md), per instance.' } }], appItems, platformItems, pushItems)
  isLocked: false
  fallbackResourceIds: [appInsightsId]
}

resource workbook 'Microsoft.Insights/workbooks@2022-04-01' = {
  name: guid(resourceGroup().id, 'pieshop-operations-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'pieshop operations'
    category: 'workbook'
    sourceId: appInsightsId
    serializedData: string(workbookContent)
  }
}

output id string = workbook.id
