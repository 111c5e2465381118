//! Hands committed events to whatever delivers them to the projection.

use async_trait::async_trait;

use crate::domain::Event;

/// The events were not accepted; they stay unpublished and the relay tries again.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("event delivery unavailable: {0}")]
    Unavailable(String),
    #[error("event delivery refused the events: {0}")]
    Rejected(String),
}

/// The event publisher port. `Ok` means the events are durably accepted for delivery (Event Grid answered 200,
/// or the in-process projection applied them); only then are they marked published.
#[async_trait]
pub trait EventPublisher: Send + Sync {
    async fn publish(&self, events: &[Event]) -> Result<(), PublishError>;
}
