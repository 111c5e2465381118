//! Events: facts that happened, each carrying the stream's state after it, so a projection needs nothing else.

use super::{Caller, CommandId, EventId, ItemKey, LocationEvent, LocationId, ProductName, Quantity, RemovalReason};
use super::{Gtin, ScannerId, Sku, Stock, StreamId, Timestamp, TraceParent, TransferId, Version};

/// Something that happened to one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Stock(StockEvent),
    Product(ProductEvent),
    Location(LocationEvent),
}

/// What kind of event, named as in `docs/API.md` (`pieshop.<Name>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    StockReceived,
    StockRemoved,
    StockCounted,
    TransferredOut,
    TransferredIn,
    ProductDefined,
    LocationDefined,
    LocationRetired,
}

impl EventKind {
    pub const ALL: [EventKind; 8] = [
        EventKind::StockReceived,
        EventKind::StockRemoved,
        EventKind::StockCounted,
        EventKind::TransferredOut,
        EventKind::TransferredIn,
        EventKind::ProductDefined,
        EventKind::LocationDefined,
        EventKind::LocationRetired,
    ];

    /// The CloudEvents `type`, e.g. `pieshop.StockReceived`.
    pub fn type_name(self) -> &'static str {
        match self {
            EventKind::StockReceived => "pieshop.StockReceived",
            EventKind::StockRemoved => "pieshop.StockRemoved",
            EventKind::StockCounted => "pieshop.StockCounted",
            EventKind::TransferredOut => "pieshop.TransferredOut",
            EventKind::TransferredIn => "pieshop.TransferredIn",
            EventKind::ProductDefined => "pieshop.ProductDefined",
            EventKind::LocationDefined => "pieshop.LocationDefined",
            EventKind::LocationRetired => "pieshop.LocationRetired",
        }
    }

    pub fn from_type_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.type_name() == s)
    }
}

/// A change of stock at one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockEvent {
    pub id: EventId,
    pub kind: EventKind,
    pub item: ItemKey,
    /// The signed change it made now (0 when superseded or absorbed).
    pub delta: i64,
    /// What the command stated: the amount moved, or the quantity counted.
    pub amount: u32,
    /// What the record did to the stock (`docs/API.md`, Offline records).
    pub outcome: Outcome,
    /// Stock on hand after the event.
    pub quantity: Stock,
    /// The item's version after the event.
    pub version: Version,
    pub command_id: CommandId,
    pub scanner_id: Option<ScannerId>,
    pub occurred_at: Option<Timestamp>,
    pub recorded_at: Timestamp,
    pub reason: Option<RemovalReason>,
    pub transfer: Option<TransferLeg>,
    pub note: Option<String>,
    /// A record naming an undefined or retired location, applied under `UnknownLocations::Refuse` (never refused:
    /// it happened); the activity entry says so, so a manager can define the location or correct the stock.
    pub unknown_location: bool,
    /// The trace of the command that made it.
    pub trace: Option<TraceParent>,
    /// Who sent the command, as the server verified it.
    pub caller: Option<Caller>,
}

/// What a stock command did, by the rules for records (`docs/API.md`, Offline records).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// A movement added to the stock.
    Applied,
    /// A count set the stock as of its time; `delta` says by how much that changed it now.
    Adjusted,
    /// A count older than the item's latest count: recorded, changes nothing.
    Superseded,
    /// A movement that happened before the item's latest count, which already saw it: recorded, changes nothing.
    Absorbed,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [Outcome::Applied, Outcome::Adjusted, Outcome::Superseded, Outcome::Absorbed];

    /// The word in command answers, events and activity entries.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Adjusted => "adjusted",
            Outcome::Superseded => "superseded",
            Outcome::Absorbed => "absorbed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// The transfer a `TransferredOut`/`TransferredIn` event belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferLeg {
    pub transfer_id: TransferId,
    pub from: LocationId,
    pub to: LocationId,
}

/// A product was defined or renamed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductEvent {
    pub id: EventId,
    pub sku: Sku,
    pub name: ProductName,
    pub category: Option<String>,
    pub reorder_level: Option<Quantity>,
    /// Every barcode the product has after the event.
    pub barcodes: Vec<Gtin>,
    pub version: Version,
    pub command_id: CommandId,
    pub recorded_at: Timestamp,
    /// The trace of the command that made it.
    pub trace: Option<TraceParent>,
    /// Who sent the command, as the server verified it.
    pub caller: Option<Caller>,
}

impl Event {
    pub fn id(&self) -> EventId {
        match self {
            Event::Stock(e) => e.id,
            Event::Product(e) => e.id,
            Event::Location(e) => e.id,
        }
    }
    pub fn kind(&self) -> EventKind {
        match self {
            Event::Stock(e) => e.kind,
            Event::Product(_) => EventKind::ProductDefined,
            Event::Location(e) if e.retire => EventKind::LocationRetired,
            Event::Location(_) => EventKind::LocationDefined,
        }
    }
    pub fn stream(&self) -> StreamId {
        match self {
            Event::Stock(e) => StreamId::Item(e.item.clone()),
            Event::Product(e) => StreamId::Product(e.sku.clone()),
            Event::Location(e) => StreamId::Location(e.location.clone()),
        }
    }
    pub fn version(&self) -> Version {
        match self {
            Event::Stock(e) => e.version,
            Event::Product(e) => e.version,
            Event::Location(e) => e.version,
        }
    }
    pub fn recorded_at(&self) -> Timestamp {
        match self {
            Event::Stock(e) => e.recorded_at,
            Event::Product(e) => e.recorded_at,
            Event::Location(e) => e.recorded_at,
        }
    }
    pub fn trace(&self) -> Option<&TraceParent> {
        match self {
            Event::Stock(e) => e.trace.as_ref(),
            Event::Product(e) => e.trace.as_ref(),
            Event::Location(e) => e.trace.as_ref(),
        }
    }
    pub fn command_id(&self) -> CommandId {
        match self {
            Event::Stock(e) => e.command_id,
            Event::Product(e) => e.command_id,
            Event::Location(e) => e.command_id,
        }
    }
}

/// A receipt at `store-1` leaving the item at `version` with `version` on hand: the unit tests' stock event.
#[cfg(test)]
pub(crate) fn received(sku: &str, version: u64) -> Event {
    use super::{LocationId, Outcome, Stock};
    let command = CommandId(uuid::Uuid::new_v4());
    let item = ItemKey { location: LocationId::parse("store-1").unwrap(), sku: Sku::parse(sku).unwrap() };
    Event::Stock(StockEvent {
        id: EventId::derive(command, &StreamId::Item(item.clone())),
        kind: EventKind::StockReceived,
        item,
        delta: 1,
        amount: 1,
        outcome: Outcome::Applied,
        quantity: Stock(version as i64),
        version: Version(version),
        command_id: command,
        scanner_id: None,
        occurred_at: None,
        recorded_at: Timestamp::now(),
        reason: None,
        transfer: None,
        note: None,
        unknown_location: false,
        trace: None,
        caller: None,
    })
}
