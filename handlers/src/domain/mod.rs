//! The inventory domain: identifiers, quantities, commands, events and the decisions that turn one into the other.
//! No I/O, no async, no JSON: everything here is plain data and pure functions.

pub mod answer;
pub mod barcode;
pub mod caller;
pub mod command;
pub mod error;
pub mod event;
pub mod ids;
pub mod item;
pub mod location;
pub mod product;
pub mod quantity;
pub mod timestamp;
pub mod transfer;

pub use barcode::{BarcodeChange, Gtin, ProductRef};
pub use caller::Caller;
pub use command::{Action, Command, CommandMeta, RemovalReason};
pub use error::DomainError;
pub use event::{Event, EventKind, Outcome, ProductEvent, StockEvent, TransferLeg};
pub use ids::{CommandId, EventId, ItemKey, LocationId, ScannerId, Sku, StreamId, TraceParent, TransferId, Version};
pub use item::{ItemState, LedgerChange, LedgerRead, Mark, Movement, Span};
pub use location::{LocationEvent, LocationKind, LocationName, LocationState, UnknownLocations};
pub use product::{ProductName, ProductState};
pub use quantity::{Amount, Quantity, Stock};
pub use timestamp::Timestamp;
pub use transfer::PendingTransfer;

/// What a stream holds: an item's stock, a product's definition or a location's.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Aggregate {
    Item(ItemState),
    Product(ProductState),
    Location(LocationState),
}

impl Aggregate {
    /// The empty aggregate a stream starts from before its first event.
    pub fn empty(stream: &StreamId) -> Self {
        match stream {
            StreamId::Item(key) => Aggregate::Item(ItemState::empty(key.clone())),
            StreamId::Product(sku) => Aggregate::Product(ProductState::empty(sku.clone())),
            StreamId::Location(location) => Aggregate::Location(LocationState::empty(location.clone())),
        }
    }

    pub fn version(&self) -> Version {
        match self {
            Aggregate::Item(item) => item.version,
            Aggregate::Product(product) => product.version,
            Aggregate::Location(location) => location.version,
        }
    }

    pub fn stream(&self) -> StreamId {
        match self {
            Aggregate::Item(item) => StreamId::Item(item.key.clone()),
            Aggregate::Product(product) => StreamId::Product(product.sku.clone()),
            Aggregate::Location(location) => StreamId::Location(location.location.clone()),
        }
    }
}

/// What a command decided: the stream's next state, its events, and a transfer left pending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub state: Aggregate,
    pub events: Vec<Event>,
    pub transfer: Option<PendingTransfer>,
    /// What it adds to or compacts in the item's ledger, committed with the state.
    pub ledger: LedgerChange,
    /// The barcodes a product's definition claims and releases, committed with the state.
    pub barcodes: BarcodeChange,
}

/// The movements of the item's ledger that deciding `command` needs summed, if any (`ItemState::ledger_read`).
pub fn ledger_read(command: &Command, current: &Aggregate, now: Timestamp) -> Option<LedgerRead> {
    match current {
        Aggregate::Item(item) => item.ledger_read(command, now),
        Aggregate::Product(_) | Aggregate::Location(_) => None,
    }
}

/// Decides a command against the current state of the stream it targets (`command.action.stream()`), given the
/// sum of the movements `ledger_read` named (`None` when it named none).
pub fn decide(
    command: &Command,
    current: &Aggregate,
    now: Timestamp,
    ledger: Option<i64>,
) -> Result<Decision, DomainError> {
    match (current, &command.action) {
        (Aggregate::Product(product), Action::DefineProduct { name, category, reorder_level, barcodes, .. }) => {
            let (state, event) = product.define(command, name, category, *reorder_level, barcodes.as_deref(), now)?;
            let barcodes = BarcodeChange::between(&product.barcodes, &state.barcodes);
            let events = vec![Event::Product(event)];
            let ledger = LedgerChange::None;
            Ok(Decision { state: Aggregate::Product(state), events, transfer: None, ledger, barcodes })
        }
        (Aggregate::Location(location), Action::DefineLocation { .. } | Action::RetireLocation { .. }) => {
            let (state, event) = location.decide(command, now)?;
            let events = vec![Event::Location(event)];
            Ok(Decision {
                state: Aggregate::Location(state),
                events,
                transfer: None,
                ledger: LedgerChange::None,
                barcodes: BarcodeChange::default(),
            })
        }
        (Aggregate::Item(item), _) => {
            let (state, event, ledger) = item.decide(command, now, ledger)?;
            let transfer = match &command.action {
                Action::Transfer { from, to, sku, quantity } => Some(PendingTransfer {
                    transfer_id: TransferId(command.id.0),
                    from: from.clone(),
                    to: to.clone(),
                    sku: sku.clone(),
                    quantity: *quantity,
                    created_at: now,
                    occurred_at: command.meta.occurred_at,
                    trace: command.meta.trace.clone(),
                    caller: command.meta.caller.clone(),
                }),
                _ => None,
            };
            let events = vec![Event::Stock(event)];
            Ok(Decision { state: Aggregate::Item(state), events, transfer, ledger, barcodes: BarcodeChange::default() })
        }
        (Aggregate::Product(_) | Aggregate::Location(_), _) => unreachable!("stock commands target item streams"),
    }
}
