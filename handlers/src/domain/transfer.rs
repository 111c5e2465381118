//! The transfer saga. A transfer touches two items in two partitions, so it cannot be one transaction:
//! the source records `TransferredOut` and a pending transfer atomically; the destination's `TransferredIn`
//! is a derived command whose id comes from the transfer id, so applying it twice is harmless; whoever finds
//! the transfer pending (the command function at once, the relay later) applies it and then clears it.

use serde::{Deserialize, Serialize};

use super::{
    Action, Amount, Caller, Command, CommandMeta, ItemKey, LocationId, Sku, Timestamp, TraceParent, TransferId,
};

/// A transfer whose second half may not have happened yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingTransfer {
    pub transfer_id: TransferId,
    pub from: LocationId,
    pub to: LocationId,
    pub sku: Sku,
    pub quantity: Amount,
    pub created_at: Timestamp,
    /// When a recorded transfer happened: both halves are records of that moment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<Timestamp>,
    /// The trace of the transfer's command: its second half joins it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<TraceParent>,
    /// Who sent the transfer: its second half is theirs too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<Caller>,
}

impl PendingTransfer {
    /// The source item, whose stream holds this record.
    pub fn source(&self) -> ItemKey {
        ItemKey { location: self.from.clone(), sku: self.sku.clone() }
    }

    /// The derived command that credits the destination.
    pub fn in_leg(&self) -> Command {
        Command {
            id: self.transfer_id.in_leg_command(),
            action: Action::TransferIn {
                transfer: self.transfer_id,
                from: self.from.clone(),
                to: self.to.clone(),
                sku: self.sku.clone(),
                quantity: self.quantity,
            },
            meta: CommandMeta {
                occurred_at: self.occurred_at,
                trace: self.trace.clone(),
                caller: self.caller.clone(),
                ..Default::default()
            },
        }
    }

    /// The derived command that gives the stock back to the source when the destination cannot take it.
    pub fn return_leg(&self) -> Command {
        Command {
            id: self.transfer_id.return_leg_command(),
            action: Action::TransferIn {
                transfer: self.transfer_id,
                from: self.to.clone(),
                to: self.from.clone(),
                sku: self.sku.clone(),
                quantity: self.quantity,
            },
            meta: CommandMeta {
                note: Some("transfer returned: destination refused it".into()),
                trace: self.trace.clone(),
                caller: self.caller.clone(),
                ..Default::default()
            },
        }
    }
}
