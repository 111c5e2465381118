//! What a command did, as its answer tells the client and its marker keeps for a retry. Plain data: the use case
//! returns it, the edge renders it, the write stores encode it (`contract::answer_json`).

use super::{CommandId, EventId, ItemKey, ItemState, LocationState, Outcome, ProductState, Stock, TransferId, Version};

/// The answer to an applied command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandAnswer {
    pub command_id: CommandId,
    /// What the command did when it was applied (a replay answers the same, as a duplicate).
    pub outcome: Outcome,
    /// An `adjusted` count: by how much it changed the stock now.
    pub delta: Option<i64>,
    pub changed: Changed,
    /// The events the command recorded.
    pub events: Vec<EventId>,
    /// A transfer's id and whether its second half is still in flight.
    pub transfer: Option<TransferAnswer>,
    /// A record applied at an undefined or retired location (`CommandMeta::unknown_location`).
    pub unknown_location: bool,
}

/// The states a command left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    /// A stock command's item (a transfer's source, then its destination once applied).
    Items(Vec<ItemAnswer>),
    /// A `defineProduct`'s product.
    Product(ProductState),
    /// A `defineLocation`'s or `retireLocation`'s location.
    Location(LocationState),
}

/// An item's stock after a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemAnswer {
    pub key: ItemKey,
    pub quantity: Stock,
    pub version: Version,
}

impl From<&ItemState> for ItemAnswer {
    fn from(item: &ItemState) -> Self {
        Self { key: item.key.clone(), quantity: item.quantity, version: item.version }
    }
}

/// A transfer as its first half's answer tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferAnswer {
    pub transfer_id: TransferId,
    /// The destination half is not yet known to be applied.
    pub pending: bool,
}
