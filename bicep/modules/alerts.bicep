// The alerts docs/RUNBOOK.md explains, each notifying the given action group:
//   projection lag, outbox backlog growing, the app's own malformed events, drift found by `verify`: log search
//   alerts on the app's OpenTelemetry metrics in Application Insights (`customMetrics`, names as the handler
//   exports them; handlers/tests/api/alerts.rs checks each name is sent and each condition is met by its failure);
//   any dead letter and the 5xx rate: metric alerts on the platform's own metrics.
// Sources: Event Grid topic metric `DeadLetteredCount` (Total; dimensions Topic, EventSubscriptionName,
// DeadLetterReason: learn.microsoft.com/azure/event-grid/monitor-push-reference); App Service / Functions metric
// `Http5xx` (Total: learn.microsoft.com/azure/azure-monitor/reference/supported-metrics/microsoft-web-sites-metrics);
// scheduledQueryRules and metricAlerts: Azure/bicep-types-az (microsoft.insights).
param namePrefix string
param location string
param tags object

@description('Resource id of the action group every alert notifies.')
param actionGroupId string
param appInsightsId string
param functionAppId string
param topicId string

@description('Projection lag (ms, recorded -> applied, the worst in 5 minutes) above which to alert.')
param projectionLagThresholdMs int
@description('Age (s) of the oldest unpublished event above which the outbox is not draining.')
param outboxOldestAgeThresholdSeconds int
@description('Events waiting in the outbox above which to alert.')
param outboxBacklogThreshold int
@description('Server errors (5xx) in 5 minutes above which to alert.')
param http5xxThreshold int

var actions = { actionGroups: [actionGroupId] }

// Log search alerts over Application Insights: evaluated every 5 minutes over the last 15 (10 for lag).
resource projectionLag 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-projection-lag'
  location: location
  tags: tags
  properties: {
    displayName: 'pieshop: projection lag over ${projectionLagThresholdMs} ms'
    description: 'Events take too long from commit to the read model. docs/RUNBOOK.md#projection-lag'
    severity: 2
    enabled: true
    scopes: [appInsightsId]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT10M'
    criteria: {
      allOf: [
        {
          query: 'customMetrics | where name == "pieshop.projection.lag" | summarize LagMs = max(valueMax) by bin(timestamp, 5m)'
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'LagMs'
          operator: 'GreaterThan'
          threshold: projectionLagThresholdMs
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    autoMitigate: true
    actions: actions
  }
}

// "Growing": the oldest unpublished event keeps getting older (the relay should republish anything older than
// PIESHOP_RELAY_MIN_AGE_MS within a minute), or the backlog is large.
resource outboxBacklog 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-outbox-backlog'
  location: location
  tags: tags
  properties: {
    displayName: 'pieshop: outbox backlog growing'
    description: 'Committed events are not being published. docs/RUNBOOK.md#outbox-backlog'
    severity: 2
    enabled: true
    scopes: [appInsightsId]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: 'customMetrics | where name in ("pieshop.outbox.oldest_age", "pieshop.outbox.backlog") | summarize OldestAge = maxif(valueMax, name == "pieshop.outbox.oldest_age"), Backlog = maxif(valueMax, name == "pieshop.outbox.backlog") by bin(timestamp, 5m) | where OldestAge > ${outboxOldestAgeThresholdSeconds} or Backlog > ${outboxBacklogThreshold}'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 2, minFailingPeriodsToAlert: 2 }
        }
      ]
    }
    autoMitigate: true
    actions: actions
  }
}

// An event the projection could not read was acknowledged and dropped (no retry can fix it): someone must look.
resource malformedEvents 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-malformed-events'
  location: location
  tags: tags
  properties: {
    displayName: 'pieshop: malformed events dropped'
    description: 'The projection acknowledged events it could not read. docs/RUNBOOK.md#malformed-events'
    severity: 3
    enabled: true
    scopes: [appInsightsId]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: 'customMetrics | where name == "pieshop.events.malformed" | summarize Malformed = sum(valueSum) by bin(timestamp, 15m)'
          timeAggregation: 'Total'
          metricMeasureColumn: 'Malformed'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    autoMitigate: true
    actions: actions
  }
}

// The daily `verify` found items on which the read model differs from the write model: rebuild or investigate.
resource verifyDrift 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-verify-drift'
  location: location
  tags: tags
  properties: {
    displayName: 'pieshop: read model drifted from the write model'
    description: 'verify found items that differ between the write and the read model. docs/RUNBOOK.md#drift'
    severity: 2
    enabled: true
    scopes: [appInsightsId]
    evaluationFrequency: 'PT1H'
    windowSize: 'P1D'
    criteria: {
      allOf: [
        {
          query: 'customMetrics | where name == "pieshop.verify.drift" | summarize Drift = max(valueMax) by bin(timestamp, 1h)'
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'Drift'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    autoMitigate: true
    actions: actions
  }
}

// Any dead letter: Event Grid gave up on an event; it waits in the dead-letter container for a replay.
resource deadLetters 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: '${namePrefix}-dead-letters'
  location: 'global'
  tags: tags
  properties: {
    description: 'Event Grid dead-lettered events for the projection. docs/RUNBOOK.md#dead-letters'
    severity: 1
    enabled: true
    scopes: [topicId]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'DeadLettered'
          metricNamespace: 'Microsoft.EventGrid/topics'
          metricName: 'DeadLetteredCount'
          timeAggregation: 'Total'
          operator: 'GreaterThan'
          threshold: 0
        }
      ]
    }
    autoMitigate: true
    actions: [{ actionGroupId: actionGroupId }]
  }
}

resource serverErrors 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: '${namePrefix}-http-5xx'
  location: 'global'
  tags: tags
  properties: {
    description: 'The function app answers 5xx (503: a backend is down). docs/RUNBOOK.md#server-errors'
    severity: 2
    enabled: true
    scopes: [functionAppId]
    evaluationFrequency: 'PT1M'
    windowSize: 'PT5M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'Http5xx'
          metricNamespace: 'Microsoft.Web/sites'
          metricName: 'Http5xx'
          timeAggregation: 'Total'
          operator: 'GreaterThan'
          threshold: http5xxThreshold
        }
      ]
    }
    autoMitigate: true
    actions: [{ actionGroupId: actionGroupId }]
  }
}

output alertNames array = [
  projectionLag.name
  outboxBacklog.name
  malformedEvents.name
  verifyDrift.name
  deadLetters.name
  serverErrors.name
]
