//! Streams' latest committed states kept in memory, so deciding a command needs no read of the store: a
//! decorator of any write store, outside it (`wiring` puts it around the embedded one).
//!
//! Only a hint: every commit is still conditional on the stream's ETag, so a lost race evicts the stream and is
//! decided again on a fresh load; a snapshot served from here says so (`Snapshot::cached`), and a command refused
//! on one is decided again after `forget` (another process, such as `handler relay`, may have written since).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::domain::{
    Aggregate, CommandId, Event, Gtin, LedgerRead, PendingTransfer, Sku, StreamId, Timestamp, TransferId,
};
use crate::ports::write_store::{CommandOutcome, Commit, CommitResult, EventRef, Snapshot};
use crate::ports::{CommandStore, Outbox, Replay, Retention, StoreError, Transfers, WriteStore};

/// Past this many streams the map is emptied rather than evicting one by one: a miss costs one read.
const MAX_STREAMS: usize = 16_384;

/// A write store with its streams' committed states in memory.
pub struct CachedStreams<S> {
    inner: S,
    snapshots: Mutex<HashMap<StreamId, Snapshot>>,
}

impl<S: WriteStore> CachedStreams<S> {
    pub fn new(inner: S) -> Self {
        Self { inner, snapshots: Mutex::default() }
    }

    /// Records a committed state, unless a newer one is already held (commits may report out of order).
    fn put(&self, stream: &StreamId, snapshot: Snapshot) {
        let mut snapshots = self.snapshots();
        if snapshots.get(stream).is_some_and(|held| held.aggregate.version() >= snapshot.aggregate.version()) {
            return;
        }
        if snapshots.len() >= MAX_STREAMS {
            snapshots.clear();
        }
        snapshots.insert(stream.clone(), Snapshot { cached: true, ..snapshot });
    }

    /// Nothing is left half-done while the lock is held, so a poisoned map is safe to take over.
    fn snapshots(&self) -> MutexGuard<'_, HashMap<StreamId, Snapshot>> {
        self.snapshots.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl<S: WriteStore> CommandStore for CachedStreams<S> {
    async fn load(&self, stream: &StreamId) -> Result<Option<Snapshot>, StoreError> {
        if let Some(held) = self.snapshots().get(stream) {
            return Ok(Some(held.clone()));
        }
        let loaded = self.inner.load(stream).await?;
        if let Some(snapshot) = &loaded {
            self.put(stream, snapshot.clone());
        }
        Ok(loaded)
    }

    fn forget(&self, stream: &StreamId) {
        self.snapshots().remove(stream);
        self.inner.forget(stream);
    }

    async fn outcome(&self, stream: &StreamId, command: CommandId) -> Result<Option<CommandOutcome>, StoreError> {
        self.inner.outcome(stream, command).await
    }

    async fn commit(&self, commit: Commit) -> Result<CommitResult, StoreError> {
        let (stream, state) = (commit.stream.clone(), commit.state.clone());
        let result = self.inner.commit(commit).await?;
        match &result {
            CommitResult::Committed { etag } => {
                self.put(&stream, Snapshot { aggregate: state, etag: etag.clone(), cached: true })
            }
            CommitResult::Conflict => {
                self.snapshots().remove(&stream);
            }
            CommitResult::Duplicate(_) | CommitResult::BarcodeTaken { .. } => {}
        }
        Ok(result)
    }

    async fn ledger_sum(&self, stream: &StreamId, read: LedgerRead) -> Result<i64, StoreError> {
        self.inner.ledger_sum(stream, read).await
    }

    async fn sku_for_barcode(&self, barcode: &Gtin) -> Result<Option<Sku>, StoreError> {
        self.inner.sku_for_barcode(barcode).await
    }
}

#[async_trait]
impl<S: WriteStore> Retention for CachedStreams<S> {
    async fn expire_markers(&self, before: Timestamp, limit: usize) -> Result<usize, StoreError> {
        self.inner.expire_markers(before, limit).await
    }
}

#[async_trait]
impl<S: WriteStore> Outbox for CachedStreams<S> {
    async fn unpublished(&self, before: Timestamp, limit: usize) -> Result<Vec<Event>, StoreError> {
        self.inner.unpublished(before, limit).await
    }

    async fn mark_published(&self, events: &[EventRef]) -> Result<(), StoreError> {
        self.inner.mark_published(events).await
    }
}

#[async_trait]
impl<S: WriteStore> Transfers for CachedStreams<S> {
    async fn pending_transfers(&self, before: Timestamp, limit: usize) -> Result<Vec<PendingTransfer>, StoreError> {
        self.inner.pending_transfers(before, limit).await
    }

    async fn finish_transfer(&self, source: &StreamId, transfer: TransferId) -> Result<(), StoreError> {
        self.inner.finish_transfer(source, transfer).await
    }
}

#[async_trait]
impl<S: WriteStore> Replay for CachedStreams<S> {
    async fn aggregates(&self) -> Result<Vec<Aggregate>, StoreError> {
        self.inner.aggregates().await
    }

    async fn events(&self) -> Result<Vec<Event>, StoreError> {
        self.inner.events().await
    }
}
