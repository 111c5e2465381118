//! The commands scanners and managers send, already parsed: every field here is valid by construction.

use super::{
    Amount, Caller, CommandId, Gtin, ItemKey, LocationId, LocationKind, LocationName, ProductName, Quantity, ScannerId,
    Sku, Timestamp, TraceParent, TransferId, Version,
};

/// One command with its client-chosen id and optional context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub id: CommandId,
    pub action: Action,
    pub meta: CommandMeta,
}

/// Most characters a command's note has.
pub const MAX_NOTE_LEN: usize = 500;

/// Context every command may carry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommandMeta {
    /// The version the client saw; a mismatch is a conflict instead of a retry.
    pub expected_version: Option<Version>,
    pub scanner_id: Option<ScannerId>,
    /// The scanner's clock; `recordedAt` is the server's.
    pub occurred_at: Option<Timestamp>,
    /// Free text, at most `MAX_NOTE_LEN` characters.
    pub note: Option<String>,
    /// The trace the command was made in (set by the transport, never by the client's body).
    pub trace: Option<TraceParent>,
    /// A record naming a location that is not defined or is retired, under `UnknownLocations::Refuse` (set by the
    /// application's location check, never by the client's body): its event and answer say `unknownLocation`.
    pub unknown_location: bool,
    /// Who sent it, as the transport verified it (never from the body; `domain::caller`).
    pub caller: Option<Caller>,
}

/// What a command asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Receive {
        item: ItemKey,
        quantity: Amount,
    },
    Remove {
        item: ItemKey,
        quantity: Amount,
        reason: RemovalReason,
    },
    Count {
        item: ItemKey,
        quantity: Quantity,
    },
    Transfer {
        from: LocationId,
        to: LocationId,
        sku: Sku,
        quantity: Amount,
    },
    DefineProduct {
        sku: Sku,
        name: ProductName,
        category: Option<String>,
        reorder_level: Option<Quantity>,
        /// The product's barcodes, replacing those it had; `None` keeps them.
        barcodes: Option<Vec<Gtin>>,
    },
    /// Creates, renames or re-activates a location.
    DefineLocation {
        location: LocationId,
        name: LocationName,
        kind: LocationKind,
    },
    /// Retires a defined location (under `UnknownLocations::Refuse`, live commands naming it are then refused).
    RetireLocation {
        location: LocationId,
    },
    /// A transfer's second half, derived from the first: never sent by clients.
    TransferIn {
        transfer: TransferId,
        from: LocationId,
        to: LocationId,
        sku: Sku,
        quantity: Amount,
    },
}

impl Action {
    /// The stream this action changes (for a transfer, its source).
    pub fn stream(&self) -> super::StreamId {
        use super::StreamId;
        match self {
            Action::Receive { item, .. } | Action::Remove { item, .. } | Action::Count { item, .. } => {
                StreamId::Item(item.clone())
            }
            Action::Transfer { from, sku, .. } => StreamId::Item(ItemKey { location: from.clone(), sku: sku.clone() }),
            Action::TransferIn { to, sku, .. } => StreamId::Item(ItemKey { location: to.clone(), sku: sku.clone() }),
            Action::DefineProduct { sku, .. } => StreamId::Product(sku.clone()),
            Action::DefineLocation { location, .. } | Action::RetireLocation { location } => {
                StreamId::Location(location.clone())
            }
        }
    }
}

/// Why stock left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RemovalReason {
    Sold,
    Wasted,
    Damaged,
    Expired,
    Returned,
    Other,
}

impl RemovalReason {
    pub const ALL: [RemovalReason; 6] = [
        RemovalReason::Sold,
        RemovalReason::Wasted,
        RemovalReason::Damaged,
        RemovalReason::Expired,
        RemovalReason::Returned,
        RemovalReason::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RemovalReason::Sold => "sold",
            RemovalReason::Wasted => "wasted",
            RemovalReason::Damaged => "damaged",
            RemovalReason::Expired => "expired",
            RemovalReason::Returned => "returned",
            RemovalReason::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}
