//! The write model: streams with their state, their events (the outbox) and command markers, changed atomically.

use async_trait::async_trait;

use super::Cause;

use crate::domain::answer::CommandAnswer;
use crate::domain::{
    Aggregate, BarcodeChange, CommandId, Event, EventId, Gtin, LedgerChange, LedgerRead, PendingTransfer, Sku,
    StreamId, Timestamp, TransferId,
};

/// An opaque concurrency token: a commit succeeds only if the stream still has this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ETag(pub String);

/// A stream's state as loaded, with the token to commit against.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub aggregate: Aggregate,
    pub etag: ETag,
    /// Served from the adapter's memory, not read from the store: it may miss another writer's commit, so a
    /// refusal decided on it is not final (see `WriteStore::forget`).
    pub cached: bool,
}

/// The stored outcome of an applied command, replayed for a retry with the same id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutcome {
    pub command_id: CommandId,
    /// Hash of the command as the client sent it: a retry with another body is refused.
    pub request_hash: String,
    /// The answer as first given; `None` when the store knows only the hash (Cosmos DB: the id is claimed by
    /// another stream, whose partition holds the answer, so the hashes differ and the answer is never needed).
    pub answer: Option<CommandAnswer>,
}

/// Everything one command changes in one stream, committed all or nothing.
#[derive(Debug, Clone)]
pub struct Commit {
    pub stream: StreamId,
    /// `None`: the stream must not exist yet.
    pub expected: Option<ETag>,
    pub state: Aggregate,
    pub events: Vec<Event>,
    pub outcome: CommandOutcome,
    /// A transfer's first half records the transfer as pending in the same commit.
    pub transfer: Option<PendingTransfer>,
    /// The movement an item's command adds to its ledger, or the count that compacts it.
    pub ledger: LedgerChange,
    /// The barcodes a product's definition claims (each must be no other product's) and releases.
    pub barcodes: BarcodeChange,
}

/// How a commit ended.
#[derive(Debug, Clone)]
pub enum CommitResult {
    /// Written; `etag` is the stream's new concurrency token.
    Committed { etag: ETag },
    /// The stream changed since it was loaded: reload and decide again.
    Conflict,
    /// The command's marker already exists: this is its stored outcome; nothing was written.
    Duplicate(CommandOutcome),
    /// A barcode the commit claims is another product's (`sku`); nothing was written.
    BarcodeTaken { barcode: Gtin, sku: Sku },
}

/// An event to mark as published (the stream locates it in partitioned stores).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRef {
    pub stream: StreamId,
    pub id: EventId,
}

impl From<&Event> for EventRef {
    fn from(e: &Event) -> Self {
        EventRef { stream: e.stream(), id: e.id() }
    }
}

/// The write store could not do its part; nothing was changed. Every adapter means the same by each variant.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Overloaded, throttled or unreachable: try again later (503 with `Retry-After`).
    #[error("write store unavailable: {0}")]
    Unavailable(#[source] Cause),
    /// Stored data could not be read back: a bug or a manual edit; retrying will not help (500).
    #[error("write store data is corrupt: {0}")]
    Corrupt(#[source] Cause),
}

/// Commands' side of the write model: a stream's state to decide on, and the one atomic commit of its next
/// state, events and command marker.
#[async_trait]
pub trait CommandStore: Send + Sync {
    /// The stream's current state, or `None` if it has no events yet.
    async fn load(&self, stream: &StreamId) -> Result<Option<Snapshot>, StoreError>;

    /// Drops any copy of the stream's state held in memory: the next `load` reads the store.
    fn forget(&self, stream: &StreamId);

    /// The stored outcome of a command, looked up in the stream it changed (or any stream that knows the id).
    async fn outcome(&self, stream: &StreamId, command: CommandId) -> Result<Option<CommandOutcome>, StoreError>;

    /// Commits state, events, marker and ledger change atomically, conditional on the ETag.
    async fn commit(&self, commit: Commit) -> Result<CommitResult, StoreError>;

    /// The sum of the deltas of an item's ledger movements that `read` names (`ItemState::ledger_read`: only a
    /// count landing among movements asks). Movements at or before the item's latest count are never named, so a
    /// store may compact them lazily.
    async fn ledger_sum(&self, stream: &StreamId, read: LedgerRead) -> Result<i64, StoreError>;

    /// The sku of the product that has `barcode` (GTINs compare as 14 digits), or `None` if no product does.
    async fn sku_for_barcode(&self, barcode: &Gtin) -> Result<Option<Sku>, StoreError>;
}

/// The transactional outbox: events committed but not yet known to be published.
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Events not yet marked published and recorded before `before`, oldest first.
    async fn unpublished(&self, before: Timestamp, limit: usize) -> Result<Vec<Event>, StoreError>;

    /// Marks events as handed to the event publisher.
    async fn mark_published(&self, events: &[EventRef]) -> Result<(), StoreError>;
}

/// Transfers whose second half may not have happened (the saga's memory).
#[async_trait]
pub trait Transfers: Send + Sync {
    /// Transfers whose second half is not yet known to have happened, created before `before`.
    async fn pending_transfers(&self, before: Timestamp, limit: usize) -> Result<Vec<PendingTransfer>, StoreError>;

    /// Clears a pending transfer once its second half is committed.
    async fn finish_transfer(&self, source: &StreamId, transfer: TransferId) -> Result<(), StoreError>;
}

/// Reading the whole write model back, for reconciliation and rebuilds.
#[async_trait]
pub trait Replay: Send + Sync {
    /// Every stream's current state, for verification against the read model.
    async fn aggregates(&self) -> Result<Vec<Aggregate>, StoreError>;

    /// Every event, in no particular order, for rebuilding the read model.
    async fn events(&self) -> Result<Vec<Event>, StoreError>;
}

/// How long a command's marker (and on Cosmos DB its claim) is kept by default: a retry within it gets the first
/// answer. 30 days outlasts Event Grid's 24 hours of retries and any scanner's offline spell
/// (`PIESHOP_IDEMPOTENCY_DAYS`).
pub const DEFAULT_IDEMPOTENCY: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

/// Forgetting what only idempotency needs once its window has passed (`PIESHOP_IDEMPOTENCY_DAYS`).
#[async_trait]
pub trait Retention: Send + Sync {
    /// Deletes up to `limit` of the oldest command markers recorded before `before`; how many it deleted. A store
    /// whose documents expire by themselves (Cosmos DB's TTL) deletes none.
    async fn expire_markers(&self, before: Timestamp, limit: usize) -> Result<usize, StoreError>;
}

/// A whole write store: every role. Adapters implement the five; each use case takes only the roles it needs.
pub trait WriteStore: CommandStore + Outbox + Transfers + Replay + Retention {}

impl<T: CommandStore + Outbox + Transfers + Replay + Retention> WriteStore for T {}
