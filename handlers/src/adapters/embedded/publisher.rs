//! In-process event delivery: what Event Grid and the Functions host do in Azure, done in this process.
//!
//! Each event is given to the subscriber as the CloudEvents JSON Event Grid delivers, and the subscriber decodes
//! and applies it through the same code path as the Event Grid trigger. `publish` succeeds once the subscriber
//! has applied every event, which is what lets the command function mark them published without losing any on
//! a crash.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::contract::event_json;
use crate::domain::Event;
use crate::ports::{EventPublisher, EventSink, PublishError};

/// Publishes by delivering to an in-process subscriber.
pub struct InProcessPublisher {
    subscriber: Arc<dyn EventSink>,
}

impl InProcessPublisher {
    pub fn new(subscriber: Arc<dyn EventSink>) -> Self {
        Self { subscriber }
    }
}

#[async_trait]
impl EventPublisher for InProcessPublisher {
    /// Hands over each event as Event Grid delivers it: one CloudEvents JSON object. (The host's extra
    /// string-encodings around it are exercised by the host-protocol tests; repeating them here for every event
    /// cost two serializations and two parses per event on the embedded command path.)
    async fn publish(&self, events: &[Event]) -> Result<(), PublishError> {
        let payloads: Vec<Value> = events.iter().map(event_json::to_cloud_event).collect();
        self.subscriber.deliver(&payloads).await.map_err(|e| PublishError::Unavailable(e.into()))
    }
}
