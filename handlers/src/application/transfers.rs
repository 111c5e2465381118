//! The transfer saga. A transfer touches two items in two partitions, so it cannot be one transaction: the
//! source records `TransferredOut` and a pending transfer atomically (`commands.rs`); the destination's
//! `TransferredIn` is a derived command whose id comes from the transfer id, so applying it twice is harmless;
//! whoever finds the transfer pending (the command at once, the relay later) applies it and then clears it.

use super::commands::{CommandError, CommandService};
use crate::domain::{self, Aggregate, Command, ItemState, PendingTransfer};

/// Where a transfer's second half stands after an attempt to complete it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferProgress {
    /// Applied (or returned to the source) and cleared; the destination's state when this call applied it.
    Completed { destination: Option<ItemState> },
    /// Could not be applied now; the relay will try again.
    Pending,
}

impl CommandService {
    /// Applies a transfer's second half and clears it; if the destination refuses the stock, gives it back to
    /// the source.
    pub async fn complete_transfer(&self, transfer: &PendingTransfer) -> TransferProgress {
        let in_leg = transfer.in_leg();
        let destination = match self.commit(&in_leg, &derived_hash(&in_leg)).await {
            Ok(Ok(committed)) => match committed.decision.state {
                Aggregate::Item(item) => Some(item),
                Aggregate::Product(_) | Aggregate::Location(_) => None,
            },
            Ok(Err(_already_applied)) => None,
            Err(CommandError::Domain(refusal)) => {
                tracing::warn!(transfer = %transfer.transfer_id, %refusal, "destination refused a transfer; returning it");
                let back = transfer.return_leg();
                if let Err(error) = self.commit(&back, &derived_hash(&back)).await {
                    tracing::error!(transfer = %transfer.transfer_id, %error, "returning a transfer failed; left pending");
                    return TransferProgress::Pending;
                }
                None
            }
            Err(error) => {
                tracing::warn!(transfer = %transfer.transfer_id, %error, "transfer left pending for the relay");
                return TransferProgress::Pending;
            }
        };
        let source = domain::StreamId::Item(transfer.source());
        if let Err(error) = self.transfers.finish_transfer(&source, transfer.transfer_id).await {
            tracing::warn!(transfer = %transfer.transfer_id, %error, "could not clear a completed transfer; the relay will");
        }
        TransferProgress::Completed { destination }
    }
}

/// Derived commands are never sent by clients; their "body" is their id.
fn derived_hash(command: &Command) -> String {
    format!("derived:{}", command.id)
}
