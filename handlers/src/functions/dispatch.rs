//! The outbox's far side: publish committed events, then mark them published. Whatever fails here is left
//! unpublished in the write store, where the relay finds it, so a crash or an outage delays events but
//! never drops them.

use std::sync::Arc;

use crate::domain::Event;
use crate::ports::write_store::EventRef;
use crate::ports::{EventPublisher, PublishError, StoreError, WriteStore};

/// Why a dispatch did not finish (the events stay unpublished).
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Publishes events and records that they were published.
#[derive(Clone)]
pub struct Dispatcher {
    store: Arc<dyn WriteStore>,
    publisher: Arc<dyn EventPublisher>,
}

impl Dispatcher {
    pub fn new(store: Arc<dyn WriteStore>, publisher: Arc<dyn EventPublisher>) -> Self {
        Self { store, publisher }
    }

    pub async fn dispatch(&self, events: &[Event]) -> Result<(), DispatchError> {
        if events.is_empty() {
            return Ok(());
        }
        self.publisher.publish(events).await?;
        let refs: Vec<EventRef> = events.iter().map(EventRef::from).collect();
        self.store.mark_published(&refs).await?;
        Ok(())
    }

    /// Dispatches in the background, right after the commit: the command's answer does not wait for
    /// delivery (the read model is eventually consistent), and a failure is the relay's to retry.
    pub fn spawn(&self, events: Vec<Event>) {
        let dispatcher = self.clone();
        tokio::spawn(async move {
            if let Err(error) = dispatcher.dispatch(&events).await {
                tracing::warn!(%error, events = events.len(), "publish failed; the relay will retry");
            }
        });
    }
}
