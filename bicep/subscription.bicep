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
        // One event per invocation: the host invokes the handler once per event anyway, and a
        // small batch keeps one slow event from delaying (and re-sending) others.
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
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
