//! Hands committed events to whatever delivers them to the projection.

use async_trait::async_trait;

use serde_json::Value;

use super::{Cause, ReadModelError};
use crate::domain::Event;

/// The events were not accepted; they stay unpublished and the relay tries again.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Throttled, failing or unreachable after the publisher's own retries.
    #[error("event delivery unavailable: {0}")]
    Unavailable(#[source] Cause),
    /// Refused as malformed or unauthorized: retrying the same request will not help.
    #[error("event delivery refused the events: {0}")]
    Rejected(#[source] Cause),
}

/// The event publisher port. `Ok` means the events are durably accepted for delivery (Event Grid answered 200,
/// or the in-process projection applied them); only then are they marked published.
#[async_trait]
pub trait EventPublisher: Send + Sync {
    async fn publish(&self, events: &[Event]) -> Result<(), PublishError>;
}

/// What applies delivered events (the projection): in-process delivery hands events to it as Event Grid would.
#[async_trait]
pub trait EventSink: Send + Sync {
    /// Applies event payloads (each as the host would pass it), in order; an error means "deliver again later".
    async fn deliver(&self, payloads: &[Value]) -> Result<(), ReadModelError>;
}
