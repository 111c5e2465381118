//! The read model: what queries read, fed only by events.

use async_trait::async_trait;

use super::Cause;

use crate::domain::{
    Event, EventId, EventKind, Gtin, ItemKey, LocationId, LocationKind, Quantity, Sku, Stock, Timestamp, TransferId,
    Version,
};

/// Whether an event changed the read model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The event was newer than what the read model held.
    Applied,
    /// The read model already held this version or a newer one; nothing changed.
    Stale,
}

/// A filtered, paged item listing (sorted by sku, then location).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InventoryQuery {
    pub location: Option<LocationId>,
    pub sku: Option<Sku>,
    /// Full-text over product name and sku; plain words, never a query language.
    pub text: Option<String>,
    pub low_stock_only: bool,
    /// Only the items of the product(s) that have this barcode (GTINs compare as 14 digits).
    pub barcode: Option<Gtin>,
    pub limit: usize,
    /// Continue after this (sku, location).
    pub after: Option<(Sku, LocationId)>,
}

/// One item as queries show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemView {
    pub location: LocationId,
    pub sku: Sku,
    /// The product name, or the sku when the product is not defined.
    pub name: String,
    pub quantity: Stock,
    pub version: Version,
    pub reorder_level: Option<Quantity>,
    pub updated_at: Timestamp,
}

impl ItemView {
    /// At or below the reorder level.
    pub fn low(&self) -> bool {
        self.reorder_level.is_some_and(|level| self.quantity <= Stock::from(level))
    }
    pub fn key(&self) -> ItemKey {
        ItemKey { location: self.location.clone(), sku: self.sku.clone() }
    }
}

/// One page of items; `more` says whether another page follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryPage {
    pub items: Vec<ItemView>,
    pub more: bool,
}

/// A product's stock across locations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductTotal {
    pub sku: Sku,
    pub name: String,
    pub total: i64,
    pub by_location: Vec<(LocationId, Stock)>,
    pub reorder_level: Option<Quantity>,
    /// The product's barcodes, as its latest definition gave them.
    pub barcodes: Vec<Gtin>,
}

/// A location's stock across products.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationTotal {
    pub location: LocationId,
    pub total: i64,
    /// Skus with stock on hand there.
    pub skus: u64,
}

/// A location as `GET /api/locations` lists it: defined (retired ones too), or holding items without being
/// defined (`version`, `name` and `kind` all `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationView {
    pub location: LocationId,
    pub name: Option<String>,
    pub kind: Option<LocationKind>,
    pub retired: bool,
    /// The definition's version; `None`: never defined.
    pub version: Option<Version>,
    /// Skus with stock on hand there.
    pub skus: u64,
    /// Stock on hand there, across skus.
    pub total: i64,
}

/// Stock that left one location for another and has not arrived: a transfer whose second half the read model
/// has not seen yet. Counted at neither end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InTransit {
    pub transfer_id: TransferId,
    pub sku: Sku,
    pub from: LocationId,
    pub to: LocationId,
    pub quantity: u32,
    /// When it left: the transfer's `occurredAt`, or when it was recorded.
    pub since: Timestamp,
}

/// The most transfers in flight a summary lists (oldest first): more means the relay is down, and the health
/// answer says so.
pub const MAX_IN_TRANSIT: usize = 500;

/// The one view across every location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub products: Vec<ProductTotal>,
    pub locations: Vec<LocationTotal>,
    pub in_transit: Vec<InTransit>,
}

/// A filtered slice of the activity log, newest first: the whole history, paged by position (keyset on
/// `recordedAt` then event id, never an offset), so a walk through it is stable while events are appended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityQuery {
    pub location: Option<LocationId>,
    pub sku: Option<Sku>,
    /// Only events of these kinds (empty: every kind).
    pub kinds: Vec<EventKind>,
    /// Only events recorded at or after this instant.
    pub from: Option<Timestamp>,
    /// Only events recorded before this instant.
    pub to: Option<Timestamp>,
    pub limit: usize,
    /// Only events older than this position: the last entry of the page before.
    pub before: Option<ActivityPosition>,
}

/// Where an event stands in the activity log's order (newest first: `recorded_at`, then `event_id`, both
/// descending). Event ids are unique, so no two events share a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityPosition {
    pub recorded_at: Timestamp,
    pub event_id: EventId,
}

impl ActivityPosition {
    pub fn of(event: &Event) -> Self {
        Self { recorded_at: event.recorded_at(), event_id: event.id() }
    }
}

/// The read model could not answer or apply. Every adapter means the same by each variant.
#[derive(Debug, thiserror::Error)]
pub enum ReadModelError {
    /// Overloaded or unreachable: a retry may help (503 with `Retry-After`; a projection is delivered again).
    #[error("read model unavailable: {0}")]
    Unavailable(#[source] Cause),
    /// What it holds or answered cannot be read: a bug or a mapping out of step (500).
    #[error("read model data is corrupt: {0}")]
    Corrupt(#[source] Cause),
}

/// The read model port.
#[async_trait]
pub trait ReadModel: Send + Sync {
    /// Applies an event if it is newer than what the read model holds for its stream; records it in the
    /// activity log once (by event id) either way. Durable when it returns `Ok`.
    async fn apply(&self, event: &Event) -> Result<Applied, ReadModelError>;

    /// Applies several events, in order, as `apply` would each. Adapters that can make it one write override it.
    async fn apply_batch(&self, events: &[Event]) -> Result<Vec<Applied>, ReadModelError> {
        let mut applied = Vec::with_capacity(events.len());
        for event in events {
            applied.push(self.apply(event).await?);
        }
        Ok(applied)
    }
    async fn inventory(&self, query: &InventoryQuery) -> Result<InventoryPage, ReadModelError>;
    async fn item(&self, key: &ItemKey) -> Result<Option<ItemView>, ReadModelError>;
    async fn summary(&self) -> Result<Summary, ReadModelError>;
    /// Every defined location and every location holding items without being defined, sorted by id. A location's
    /// own events change only its definition here; they are not in the activity log, nor in `as_of`.
    async fn locations(&self) -> Result<Vec<LocationView>, ReadModelError>;
    /// Events newest first (stock events and product definitions), at most `query.limit`, every one the
    /// query's filters match, from `query.before` on: paging through with the last event's position yields
    /// every event exactly once.
    async fn activity(&self, query: &ActivityQuery) -> Result<Vec<Event>, ReadModelError>;
    /// The `recordedAt` of the newest event applied (`None` when empty).
    async fn as_of(&self) -> Result<Option<Timestamp>, ReadModelError>;

    /// Replays `events` into a fresh copy of the read model and swaps it in atomically while queries keep
    /// being answered from the old one. Events applied to the old copy meanwhile must be applied again after
    /// the swap (applying is idempotent): `functions::operator::rebuild` does that.
    async fn rebuild(&self, events: &[Event]) -> Result<(), ReadModelError>;
}
