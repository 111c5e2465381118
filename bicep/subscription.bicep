// The Event Grid subscription that feeds the `projection` function.
//
// Separate from main.bicep because an AzureFunction endpoint must name a function that
// already exists, i.e. after the code is published. scripts/deploy.sh deploys it right after
// `func azure functionapp publish`, in the same run.
param topicName string
param functionAppName string
param storageAccountName string
param deadLetterContainerName string

@description('Event Grid retries for up to this long before dead-lettering (max 1440).')
param eventTimeToLiveInMinutes int = 1440

param maxDeliveryAttempts int = 30

@description('Most events Event Grid puts in one delivery (1-5000). The projection applies a batch as one read-model write; ask for no more than it handles within Event Grid\'s 30 s answer time.')
@minValue(1)
@maxValue(5000)
param maxEventsPerBatch int = 500

@description('Event Grid\'s target size of one delivery in kilobytes (1-1024); a larger single event is still delivered alone.')
@minValue(1)
@maxValue(1024)
param preferredBatchSizeInKilobytes int = 1024

resource topic 'Microsoft.EventGrid/topics@2022-06-15' existing = {
  name: topicName
}

resource app 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource projection 'Microsoft.EventGrid/topics/eventSubscriptions@2022-06-15' = {
  parent: topic
  name: 'projection'
  properties: {
    // AzureFunction endpoints are validated by Event Grid itself and need no key handling.
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${app.id}/functions/projection'
        // Batches: with `cardinality: many` in functions/projection/function.json the host hands the whole
        // delivery to one invocation, applied as one read-model write (docs/protocol/eventgrid-batches.md).
        maxEventsPerBatch: maxEventsPerBatch
        preferredBatchSizeInKilobytes: preferredBatchSizeInKilobytes
      }
    }
    eventDeliverySchema: 'CloudEventSchemaV1_0'
    retryPolicy: {
      maxDeliveryAttempts: maxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    }
    // The topic's own identity writes dead letters (storage shared keys are off).
    deadLetterWithResourceIdentity: {
      identity: { type: 'SystemAssigned' }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: storage.id
          blobContainerName: deadLetterContainerName
        }
      }
    }
  }
}

output subscriptionName string = projection.name
