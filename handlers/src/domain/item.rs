//! An item (a sku at a location): its stock, and the decisions that change it.

use serde::{Deserialize, Serialize};

use super::quantity::MAX_QUANTITY;
use super::{Action, Command, DomainError, EventId, EventKind, ItemKey, Quantity, StockEvent, StreamId, Timestamp};
use super::{TransferLeg, Version};

/// Stock on hand at one item, at a version (0: nothing ever happened here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemState {
    pub key: ItemKey,
    pub quantity: Quantity,
    pub version: Version,
}

/// Refuses a command whose `expectedVersion` is not the stream's version.
pub(crate) fn check_expected(command: &Command, actual: Version) -> Result<(), DomainError> {
    match command.meta.expected_version {
        Some(expected) if expected != actual => Err(DomainError::VersionConflict { expected, actual }),
        _ => Ok(()),
    }
}

impl ItemState {
    pub fn empty(key: ItemKey) -> Self {
        Self { key, quantity: Quantity::ZERO, version: Version::NONE }
    }

    /// Decides a stock command against this state: the next state and its event, or why not.
    /// `action` must be a stock action on this item (the caller routes by `Action::stream`).
    pub fn decide(&self, command: &Command, now: Timestamp) -> Result<(ItemState, StockEvent), DomainError> {
        check_expected(command, self.version)?;
        let on_hand = self.quantity.get();
        let (kind, new_quantity, reason, transfer) = match &command.action {
            Action::Receive { quantity, .. } => (EventKind::StockReceived, self.add(quantity.get())?, None, None),
            Action::Remove { quantity, reason, .. } => {
                (EventKind::StockRemoved, self.take(quantity.get())?, Some(*reason), None)
            }
            Action::Count { quantity, .. } => (EventKind::StockCounted, quantity.get(), None, None),
            Action::Transfer { from, to, quantity, .. } => {
                if from == to {
                    return Err(DomainError::SameLocation);
                }
                let leg =
                    TransferLeg { transfer_id: super::TransferId(command.id.0), from: from.clone(), to: to.clone() };
                (EventKind::TransferredOut, self.take(quantity.get())?, None, Some(leg))
            }
            Action::TransferIn { transfer, from, to, quantity, .. } => {
                let leg = TransferLeg { transfer_id: *transfer, from: from.clone(), to: to.clone() };
                (EventKind::TransferredIn, self.add(quantity.get())?, None, Some(leg))
            }
            Action::DefineProduct { .. } => unreachable!("product commands are routed to ProductState"),
        };
        let version = self.version.next();
        let next = ItemState {
            key: self.key.clone(),
            quantity: Quantity::new(new_quantity).map_err(|_| self.limit(new_quantity))?,
            version,
        };
        let event = StockEvent {
            id: EventId::derive(command.id, &StreamId::Item(self.key.clone())),
            kind,
            item: self.key.clone(),
            delta: i64::from(new_quantity) - i64::from(on_hand),
            quantity: next.quantity,
            version,
            // A transfer's second half is filed under the transfer's command, so clients can correlate both.
            command_id: match &command.action {
                Action::TransferIn { transfer, .. } => super::CommandId(transfer.0),
                _ => command.id,
            },
            scanner_id: command.meta.scanner_id.clone(),
            occurred_at: command.meta.occurred_at,
            recorded_at: now,
            reason,
            transfer,
            note: command.meta.note.clone(),
        };
        Ok((next, event))
    }

    fn add(&self, amount: u32) -> Result<u32, DomainError> {
        let total = self.quantity.get() + amount;
        if total > MAX_QUANTITY {
            return Err(self.limit(amount));
        }
        Ok(total)
    }

    fn take(&self, amount: u32) -> Result<u32, DomainError> {
        self.quantity
            .get()
            .checked_sub(amount)
            .ok_or(DomainError::InsufficientStock { available: self.quantity, requested: amount })
    }

    fn limit(&self, adding: u32) -> DomainError {
        DomainError::QuantityLimit { on_hand: self.quantity, adding, limit: MAX_QUANTITY }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Amount, CommandId, CommandMeta, LocationId, RemovalReason, Sku};

    fn key() -> ItemKey {
        ItemKey { location: LocationId::parse("store-1").unwrap(), sku: Sku::parse("apple-pie").unwrap() }
    }

    fn command(action: Action) -> Command {
        Command { id: CommandId(uuid::Uuid::new_v4()), action, meta: CommandMeta::default() }
    }

    /// given(events as a state).when(command).then(expected quantity or error)
    fn given(quantity: u32, version: u64) -> ItemState {
        ItemState { key: key(), quantity: Quantity::new(quantity).unwrap(), version: Version(version) }
    }

    #[test]
    fn receive_adds_and_bumps_the_version() {
        let cmd = command(Action::Receive { item: key(), quantity: Amount::new(5).unwrap() });
        let (next, event) = given(3, 7).decide(&cmd, Timestamp::now()).unwrap();
        assert_eq!((next.quantity.get(), next.version), (8, Version(8)));
        assert_eq!((event.delta, event.quantity.get(), event.kind), (5, 8, EventKind::StockReceived));
    }

    #[test]
    fn removing_more_than_on_hand_is_refused_with_the_shortfall() {
        let cmd =
            command(Action::Remove { item: key(), quantity: Amount::new(4).unwrap(), reason: RemovalReason::Sold });
        let err = given(3, 1).decide(&cmd, Timestamp::now()).unwrap_err();
        assert_eq!(err, DomainError::InsufficientStock { available: Quantity::new(3).unwrap(), requested: 4 });
    }

    #[test]
    fn count_sets_the_absolute_quantity_with_a_signed_delta() {
        let cmd = command(Action::Count { item: key(), quantity: Quantity::new(2).unwrap() });
        let (next, event) = given(10, 4).decide(&cmd, Timestamp::now()).unwrap();
        assert_eq!((next.quantity.get(), event.delta), (2, -8));
    }

    #[test]
    fn a_stale_expected_version_is_a_conflict() {
        let mut cmd = command(Action::Receive { item: key(), quantity: Amount::new(1).unwrap() });
        cmd.meta.expected_version = Some(Version(2));
        let err = given(3, 5).decide(&cmd, Timestamp::now()).unwrap_err();
        assert_eq!(err, DomainError::VersionConflict { expected: Version(2), actual: Version(5) });
    }

    #[test]
    fn stock_cannot_exceed_the_limit() {
        let cmd = command(Action::Receive { item: key(), quantity: Amount::new(2).unwrap() });
        assert!(matches!(given(999_999, 1).decide(&cmd, Timestamp::now()), Err(DomainError::QuantityLimit { .. })));
    }

    #[test]
    fn a_transfer_takes_from_the_source_and_names_both_ends() {
        let to = LocationId::parse("back-room").unwrap();
        let cmd = command(Action::Transfer {
            from: key().location,
            to: to.clone(),
            sku: key().sku,
            quantity: Amount::new(2).unwrap(),
        });
        let (next, event) = given(5, 1).decide(&cmd, Timestamp::now()).unwrap();
        assert_eq!(next.quantity.get(), 3);
        assert_eq!(event.kind, EventKind::TransferredOut);
        assert_eq!(event.transfer.unwrap().to, to);
    }
}
