//! Forwarding decorators of the ports, written once: each passes every call to the real adapter it wraps, except
//! where a test's fault source or hooks say to fail (before the work, or after it, losing the answer) or to wait.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use pieshop::domain::{
    Aggregate, CommandId, Event, Gtin, ItemKey, LedgerRead, PendingTransfer, Sku, StreamId, Timestamp, TransferId,
};
use pieshop::ports::read_model::{ActivityQuery, Applied, InventoryPage, InventoryQuery, ItemView, Summary};
use pieshop::ports::write_store::{CommandOutcome, Commit, CommitResult, EventRef, Snapshot};
use pieshop::ports::{CommandStore, EventPublisher, Outbox, PublishError, ReadModel, ReadModelError, Replay};
use pieshop::ports::{Retention, StoreError, Transfers, WriteStore};

/// How one call meets its fault source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// Fails without doing anything.
    Before,
    /// Does its work, then reports failure (the answer is lost on the way back).
    After,
}

/// Decides, call by call, whether a decorated port fails.
pub trait Faults: Send + Sync {
    fn next(&self) -> Fault;
}

/// A switch: while set, every call fails before doing anything (an outage).
impl Faults for AtomicBool {
    fn next(&self) -> Fault {
        if self.load(Ordering::SeqCst) { Fault::Before } else { Fault::None }
    }
}

/// The real publisher, failing as its fault source says: an outage (before) or a lost acknowledgement (after).
pub struct FaultyPublisher {
    pub inner: Arc<dyn EventPublisher>,
    pub faults: Arc<dyn Faults>,
}

#[async_trait]
impl EventPublisher for FaultyPublisher {
    async fn publish(&self, events: &[Event]) -> Result<(), PublishError> {
        match self.faults.next() {
            Fault::None => self.inner.publish(events).await,
            Fault::Before => Err(PublishError::Unavailable("injected by the test: publisher down".into())),
            Fault::After => {
                self.inner.publish(events).await?;
                Err(PublishError::Unavailable("injected by the test: acknowledgement lost".into()))
            }
        }
    }
}

/// The real read model, except that `apply` and `apply_batch` fail as the fault source says (before or after
/// applying), as when Elasticsearch or SQLite is briefly unavailable; queries pass through.
pub struct FaultyReadModel {
    pub inner: Arc<dyn ReadModel>,
    pub faults: Arc<dyn Faults>,
}

impl FaultyReadModel {
    fn injected(when: &str) -> ReadModelError {
        ReadModelError::Unavailable(format!("injected by the test: failed {when} applying").into())
    }
}

#[async_trait]
impl ReadModel for FaultyReadModel {
    async fn apply(&self, event: &Event) -> Result<Applied, ReadModelError> {
        match self.faults.next() {
            Fault::None => self.inner.apply(event).await,
            Fault::Before => Err(Self::injected("before")),
            Fault::After => {
                self.inner.apply(event).await?;
                Err(Self::injected("after"))
            }
        }
    }
    /// One write of the projection, however many events (and invocations) it carries: one call of the source.
    async fn apply_batch(&self, events: &[Event]) -> Result<Vec<Applied>, ReadModelError> {
        match self.faults.next() {
            Fault::None => self.inner.apply_batch(events).await,
            Fault::Before => Err(Self::injected("before")),
            Fault::After => {
                self.inner.apply_batch(events).await?;
                Err(Self::injected("after"))
            }
        }
    }
    async fn inventory(&self, query: &InventoryQuery) -> Result<InventoryPage, ReadModelError> {
        self.inner.inventory(query).await
    }
    async fn item(&self, key: &ItemKey) -> Result<Option<ItemView>, ReadModelError> {
        self.inner.item(key).await
    }
    async fn summary(&self) -> Result<Summary, ReadModelError> {
        self.inner.summary().await
    }
    async fn locations(&self) -> Result<Vec<pieshop::ports::read_model::LocationView>, ReadModelError> {
        self.inner.locations().await
    }
    async fn activity(&self, query: &ActivityQuery) -> Result<Vec<Event>, ReadModelError> {
        self.inner.activity(query).await
    }
    async fn as_of(&self) -> Result<Option<Timestamp>, ReadModelError> {
        self.inner.as_of().await
    }
    async fn rebuild(&self, events: &[Event]) -> Result<(), ReadModelError> {
        self.inner.rebuild(events).await
    }
}

/// What a test does around the command side of a write store; every hook does nothing unless overridden.
#[async_trait]
pub trait StoreHooks: Send + Sync {
    /// Before a stream is loaded.
    async fn load(&self, _stream: &StreamId) {}
    /// After a command's stored outcome was looked up.
    async fn outcome_looked_up(&self) {}
    /// Before a commit: an error fails the commit without making it.
    async fn commit(&self, _commit: &Commit) -> Result<(), StoreError> {
        Ok(())
    }
    /// After a commit was attempted.
    async fn committed(&self) {}
}

/// The failing stream: commits to the stream it holds fail as unavailable (none while it holds `None`).
#[async_trait]
impl StoreHooks for Mutex<Option<StreamId>> {
    async fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        if self.lock().unwrap().as_ref() == Some(&commit.stream) {
            return Err(StoreError::Unavailable("injected by the test".into()));
        }
        Ok(())
    }
}

/// The real write store with a test's hooks around its command side; the outbox, transfers and replay pass through.
pub struct FaultyStore<H: ?Sized> {
    pub inner: Arc<dyn WriteStore>,
    pub hooks: Arc<H>,
}

#[async_trait]
impl<H: StoreHooks + ?Sized> CommandStore for FaultyStore<H> {
    async fn load(&self, stream: &StreamId) -> Result<Option<Snapshot>, StoreError> {
        self.hooks.load(stream).await;
        self.inner.load(stream).await
    }

    fn forget(&self, stream: &StreamId) {
        self.inner.forget(stream)
    }

    async fn outcome(&self, stream: &StreamId, command: CommandId) -> Result<Option<CommandOutcome>, StoreError> {
        let outcome = self.inner.outcome(stream, command).await;
        self.hooks.outcome_looked_up().await;
        outcome
    }

    async fn commit(&self, commit: Commit) -> Result<CommitResult, StoreError> {
        self.hooks.commit(&commit).await?;
        let result = self.inner.commit(commit).await;
        self.hooks.committed().await;
        result
    }

    async fn ledger_sum(&self, stream: &StreamId, read: LedgerRead) -> Result<i64, StoreError> {
        self.inner.ledger_sum(stream, read).await
    }

    async fn sku_for_barcode(&self, barcode: &Gtin) -> Result<Option<Sku>, StoreError> {
        self.inner.sku_for_barcode(barcode).await
    }
}

#[async_trait]
impl<H: StoreHooks + ?Sized> Outbox for FaultyStore<H> {
    async fn unpublished(&self, before: Timestamp, limit: usize) -> Result<Vec<Event>, StoreError> {
        self.inner.unpublished(before, limit).await
    }

    async fn mark_published(&self, events: &[EventRef]) -> Result<(), StoreError> {
        self.inner.mark_published(events).await
    }
}

#[async_trait]
impl<H: StoreHooks + ?Sized> Transfers for FaultyStore<H> {
    async fn pending_transfers(&self, before: Timestamp, limit: usize) -> Result<Vec<PendingTransfer>, StoreError> {
        self.inner.pending_transfers(before, limit).await
    }

    async fn finish_transfer(&self, source: &StreamId, transfer: TransferId) -> Result<(), StoreError> {
        self.inner.finish_transfer(source, transfer).await
    }
}

#[async_trait]
impl<H: StoreHooks + ?Sized> Retention for FaultyStore<H> {
    async fn expire_markers(&self, before: Timestamp, limit: usize) -> Result<usize, StoreError> {
        self.inner.expire_markers(before, limit).await
    }
}

#[async_trait]
impl<H: StoreHooks + ?Sized> Replay for FaultyStore<H> {
    async fn aggregates(&self) -> Result<Vec<Aggregate>, StoreError> {
        self.inner.aggregates().await
    }

    async fn events(&self) -> Result<Vec<Event>, StoreError> {
        self.inner.events().await
    }
}
