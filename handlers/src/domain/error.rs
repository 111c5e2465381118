//! Why the domain refuses a command. Each refusal changes nothing.

use super::{Gtin, LocationId, Sku, Stock, Timestamp, Version};

/// A command that is well formed but not allowed against the current state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// A removal or transfer asks for more than is on hand.
    #[error("only {available} on hand, {requested} requested")]
    InsufficientStock { available: Stock, requested: u32 },
    /// The client stated the version it expected, and the stream has moved on.
    #[error("expected version {expected}, the current version is {actual}")]
    VersionConflict { expected: Version, actual: Version },
    /// The result would exceed the most a location may hold.
    #[error("{on_hand} on hand plus {adding} would exceed the limit of {limit}")]
    QuantityLimit { on_hand: Stock, adding: u32, limit: u32 },
    /// A record dated further in the future than clocks can disagree: a scanner's clock is wrong.
    #[error("occurredAt {occurred_at} is in the future (the server's clock says {now})")]
    InFuture { occurred_at: Timestamp, now: Timestamp },
    /// A count at or before an item's `horizon`: only states written before the ledger have one (they folded
    /// movements past 10,000 into the stock), so what the item held then is no longer known. Count again.
    #[error("the count at {occurred_at} is older than the item's kept history (from {horizon}); count again")]
    CountBeforeHistory { occurred_at: Timestamp, horizon: Timestamp },
    /// A `defineProduct` gives a product a barcode another product has: a barcode names one sku.
    #[error("barcode {barcode} belongs to {sku}")]
    BarcodeTaken { barcode: Gtin, sku: Sku },
    /// A command names its product by a barcode no product has. Nothing is stored, not even the command's id:
    /// the scanner keeps the scan and sends it again once the product is defined.
    #[error("no product has barcode {barcode}")]
    UnknownBarcode { barcode: Gtin },
    /// A live command names a location that was never defined (under `UnknownLocations::Refuse`), or a
    /// `retireLocation` names one.
    #[error("location {location} is not defined")]
    UnknownLocation { location: LocationId },
    /// A live command names a retired location (under `UnknownLocations::Refuse`).
    #[error("location {location} is retired")]
    LocationRetired { location: LocationId },
    /// A transfer names the same location twice.
    #[error("a transfer needs two different locations")]
    SameLocation,
}
