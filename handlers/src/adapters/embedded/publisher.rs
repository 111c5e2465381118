//! In-process event delivery: what Event Grid and the Functions host do in Azure, done in this process.
//!
//! Each event is serialized exactly as the host hands it to the `projection` function (CloudEvents JSON,
//! as a string of a string of JSON) and given to the subscriber, which decodes and applies it through the
//! same code path as the Event Grid trigger. `publish` succeeds once the subscriber has applied every event,
//! which is what lets the command function mark them published without losing any on a crash.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::contract::event_json;
use crate::domain::Event;
use crate::ports::{EventPublisher, PublishError};

/// Whatever receives delivered events (the projection function).
#[async_trait]
pub trait Subscriber: Send + Sync {
    /// Delivers event payloads, each as the host would pass it, in order; `Err` means "retry later".
    async fn deliver(&self, payloads: &[Value]) -> Result<(), String>;
}

/// Publishes by delivering to an in-process subscriber.
pub struct InProcessPublisher {
    subscriber: Arc<dyn Subscriber>,
}

impl InProcessPublisher {
    pub fn new(subscriber: Arc<dyn Subscriber>) -> Self {
        Self { subscriber }
    }
}

/// The event as the Functions host passes an Event Grid trigger's value: indented JSON, JSON-encoded twice.
pub fn as_host_payload(event: &Event) -> Value {
    let indented = serde_json::to_string_pretty(&event_json::to_cloud_event(event)).unwrap_or_default();
    let once = serde_json::to_string(&indented).unwrap_or_default();
    Value::String(once)
}

#[async_trait]
impl EventPublisher for InProcessPublisher {
    async fn publish(&self, events: &[Event]) -> Result<(), PublishError> {
        let payloads: Vec<Value> = events.iter().map(as_host_payload).collect();
        self.subscriber.deliver(&payloads).await.map_err(PublishError::Unavailable)
    }
}
