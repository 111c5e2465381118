//! An item (a sku at a location): its stock, and the decisions that change it.

use serde::{Deserialize, Serialize};

use super::quantity::MAX_QUANTITY;
use super::{Action, Command, CommandId, DomainError, EventId, EventKind, ItemKey, Outcome, Stock, StockEvent};
use super::{StreamId, Timestamp, TransferLeg, Version};

/// How far a record's `occurredAt` may lie ahead of the server's clock: scanners' clocks drift.
pub const CLOCK_SKEW: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// The most movements an item keeps since its latest count. Counts bound the history in practice (each count
/// drops what came before it); this bounds it when an item is never counted, and keeps a Cosmos DB state document
/// (about 75 bytes a movement) well under its 2 MB limit. Past it the oldest movement is folded into the stock,
/// and a count older than that can no longer be placed (`DomainError::CountBeforeHistory`).
pub const MAX_HISTORY: usize = 10_000;

/// Where a record falls in an item's history: by `occurredAt` (arrival for live commands), ties broken by command id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Mark {
    pub at: Timestamp,
    pub command: CommandId,
}

/// A movement since the item's latest count, kept so that a count arriving late knows what the item held at its
/// time. Written as a three-element array: an item may keep thousands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Movement(pub Timestamp, pub CommandId, pub i64);

impl Movement {
    fn mark(&self) -> Mark {
        Mark { at: self.0, command: self.1 }
    }
}

/// Stock at one item, at a version (0: nothing ever happened here), with what the rules for records need: the
/// latest count and the movements after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemState {
    pub key: ItemKey,
    pub quantity: Stock,
    pub version: Version,
    /// The latest count by `occurredAt`: movements before it are absorbed, counts before it superseded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counted: Option<Mark>,
    /// Movements after `counted`, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Movement>,
    /// The newest movement folded out of `history` (`MAX_HISTORY`): no count before it can be placed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub horizon: Option<Mark>,
}

/// Refuses a command whose `expectedVersion` is not the stream's version.
pub(crate) fn check_expected(command: &Command, actual: Version) -> Result<(), DomainError> {
    match command.meta.expected_version {
        Some(expected) if expected != actual => Err(DomainError::VersionConflict { expected, actual }),
        _ => Ok(()),
    }
}

/// What a stock command does to the item's stock.
enum Change {
    Move(i64),
    Count(u32),
}

impl ItemState {
    pub fn empty(key: ItemKey) -> Self {
        Self { key, quantity: Stock::ZERO, version: Version::NONE, counted: None, history: Vec::new(), horizon: None }
    }

    /// Decides a stock command against this state: the next state and its event, or why not.
    /// `action` must be a stock action on this item (the caller routes by `Action::stream`).
    ///
    /// A command with `occurredAt` is a record of what happened then, placed in the item's history by that time;
    /// one without happened now, and only it can be refused for want of stock or room (`docs/API.md`, Offline records).
    pub fn decide(&self, command: &Command, now: Timestamp) -> Result<(ItemState, StockEvent), DomainError> {
        check_expected(command, self.version)?;
        let record = command.meta.occurred_at;
        if let Some(occurred_at) = record
            && occurred_at > now.plus(CLOCK_SKEW)
        {
            return Err(DomainError::InFuture { occurred_at, now });
        }
        let mark = Mark { at: record.unwrap_or(now), command: command.id };
        let (kind, change, reason, transfer) = match &command.action {
            Action::Receive { quantity, .. } => {
                (EventKind::StockReceived, Change::Move(i64::from(quantity.get())), None, None)
            }
            Action::Remove { quantity, reason, .. } => {
                (EventKind::StockRemoved, Change::Move(-i64::from(quantity.get())), Some(*reason), None)
            }
            Action::Count { quantity, .. } => (EventKind::StockCounted, Change::Count(quantity.get()), None, None),
            Action::Transfer { from, to, quantity, .. } => {
                if from == to {
                    return Err(DomainError::SameLocation);
                }
                let leg =
                    TransferLeg { transfer_id: super::TransferId(command.id.0), from: from.clone(), to: to.clone() };
                (EventKind::TransferredOut, Change::Move(-i64::from(quantity.get())), None, Some(leg))
            }
            Action::TransferIn { transfer, from, to, quantity, .. } => {
                let leg = TransferLeg { transfer_id: *transfer, from: from.clone(), to: to.clone() };
                (EventKind::TransferredIn, Change::Move(i64::from(quantity.get())), None, Some(leg))
            }
            Action::DefineProduct { .. } => unreachable!("product commands are routed to ProductState"),
        };
        let mut next = self.clone();
        next.version = self.version.next();
        let before_count = self.counted.is_some_and(|counted| mark < counted);
        let (outcome, delta, amount) = match change {
            Change::Move(delta) if before_count => (Outcome::Absorbed, 0, delta.unsigned_abs()),
            Change::Move(delta) => {
                if record.is_none() {
                    self.check_live(delta)?;
                }
                next.record_movement(Movement(mark.at, mark.command, delta));
                (Outcome::Applied, delta, delta.unsigned_abs())
            }
            Change::Count(counted) if before_count => (Outcome::Superseded, 0, u64::from(counted)),
            Change::Count(counted) => {
                if let Some(horizon) = self.horizon
                    && mark <= horizon
                {
                    return Err(DomainError::CountBeforeHistory { occurred_at: mark.at, horizon: horizon.at });
                }
                (Outcome::Adjusted, next.record_count(mark, counted), u64::from(counted))
            }
        };
        let event = StockEvent {
            id: EventId::derive(command.id, &StreamId::Item(self.key.clone())),
            kind,
            item: self.key.clone(),
            delta,
            // Amounts and counts are at most MAX_QUANTITY by construction.
            amount: u32::try_from(amount).unwrap_or(u32::MAX),
            outcome,
            quantity: next.quantity,
            version: next.version,
            // A transfer's second half is filed under the transfer's command, so clients can correlate both.
            command_id: match &command.action {
                Action::TransferIn { transfer, .. } => super::CommandId(transfer.0),
                _ => command.id,
            },
            scanner_id: command.meta.scanner_id.clone(),
            occurred_at: record,
            recorded_at: now,
            reason,
            transfer,
            note: command.meta.note.clone(),
            trace: command.meta.trace.clone(),
        };
        Ok((next, event))
    }

    /// What the item held just before `mark`: what it holds now, less every kept movement after it.
    pub fn held_at(&self, mark: Mark) -> i64 {
        self.quantity.0 - self.history.iter().rev().take_while(|m| m.mark() > mark).map(|m| m.2).sum::<i64>()
    }

    /// Adds a movement after the latest count, in its place by time; folds the oldest beyond `MAX_HISTORY`.
    fn record_movement(&mut self, movement: Movement) {
        self.quantity.0 += movement.2;
        let at = self.history.partition_point(|m| m.mark() < movement.mark());
        if self.horizon.is_some_and(|horizon| movement.mark() <= horizon) {
            return;
        }
        self.history.insert(at, movement);
        if self.history.len() > MAX_HISTORY {
            let folded = self.history.remove(0);
            self.horizon = Some(folded.mark());
        }
    }

    /// Makes `counted` true at `mark`, keeps every movement after it; returns the change to the stock now.
    fn record_count(&mut self, mark: Mark, counted: u32) -> i64 {
        let delta = i64::from(counted) - self.held_at(mark);
        self.quantity.0 += delta;
        self.history.retain(|m| m.mark() > mark);
        self.counted = Some(mark);
        delta
    }

    /// The live invariants: a live removal or transfer takes only what is on hand, a live receipt stays in bounds.
    fn check_live(&self, delta: i64) -> Result<(), DomainError> {
        let after = self.quantity.0 + delta;
        if delta < 0 && after < 0 {
            return Err(DomainError::InsufficientStock {
                available: self.quantity,
                requested: u32::try_from(-delta).unwrap_or(u32::MAX),
            });
        }
        if delta > 0 && after > i64::from(MAX_QUANTITY) {
            return Err(DomainError::QuantityLimit {
                on_hand: self.quantity,
                adding: u32::try_from(delta).unwrap_or(u32::MAX),
                limit: MAX_QUANTITY,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Amount, CommandMeta, LocationId, Quantity, RemovalReason, Sku};

    fn key() -> ItemKey {
        ItemKey { location: LocationId::parse("store-1").unwrap(), sku: Sku::parse("apple-pie").unwrap() }
    }

    fn command(action: Action) -> Command {
        Command { id: CommandId(uuid::Uuid::new_v4()), action, meta: CommandMeta::default() }
    }

    /// given(events as a state).when(command).then(expected quantity or error)
    fn given(quantity: i64, version: u64) -> ItemState {
        ItemState { quantity: Stock(quantity), version: Version(version), ..ItemState::empty(key()) }
    }

    #[test]
    fn receive_adds_and_bumps_the_version() {
        let cmd = command(Action::Receive { item: key(), quantity: Amount::new(5).unwrap() });
        let (next, event) = given(3, 7).decide(&cmd, Timestamp::now()).unwrap();
        assert_eq!((next.quantity.get(), next.version), (8, Version(8)));
        assert_eq!((event.delta, event.quantity.get(), event.kind), (5, 8, EventKind::StockReceived));
        assert_eq!(event.outcome, Outcome::Applied);
    }

    #[test]
    fn removing_more_than_on_hand_is_refused_with_the_shortfall() {
        let cmd =
            command(Action::Remove { item: key(), quantity: Amount::new(4).unwrap(), reason: RemovalReason::Sold });
        let err = given(3, 1).decide(&cmd, Timestamp::now()).unwrap_err();
        assert_eq!(err, DomainError::InsufficientStock { available: Stock(3), requested: 4 });
    }

    #[test]
    fn count_sets_the_absolute_quantity_with_a_signed_delta() {
        let cmd = command(Action::Count { item: key(), quantity: Quantity::new(2).unwrap() });
        let (next, event) = given(10, 4).decide(&cmd, Timestamp::now()).unwrap();
        assert_eq!((next.quantity.get(), event.delta, event.outcome), (2, -8, Outcome::Adjusted));
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

    /// Records of the rules in `docs/API.md` (Offline records): each at an hour of one day, arriving at 18:00.
    mod records {
        use super::*;

        fn at(hour: u32) -> Timestamp {
            Timestamp::parse(&format!("2026-11-29T{hour:02}:00:00Z")).unwrap()
        }
        fn arrival() -> Timestamp {
            at(18)
        }
        fn record(action: Action, hour: u32) -> Command {
            let mut cmd = command(action);
            cmd.meta.occurred_at = Some(at(hour));
            cmd
        }
        fn count(quantity: u32, hour: u32) -> Command {
            record(Action::Count { item: key(), quantity: Quantity::new(quantity).unwrap() }, hour)
        }
        fn sale(quantity: u32, hour: u32) -> Command {
            let quantity = Amount::new(quantity).unwrap();
            record(Action::Remove { item: key(), quantity, reason: RemovalReason::Sold }, hour)
        }
        fn receipt(quantity: u32, hour: u32) -> Command {
            record(Action::Receive { item: key(), quantity: Amount::new(quantity).unwrap() }, hour)
        }

        /// Applies commands in arrival order; the state after, and each event's (outcome, delta).
        fn when(state: ItemState, commands: &[Command]) -> (ItemState, Vec<(Outcome, i64)>) {
            commands.iter().fold((state, vec![]), |(state, mut seen), cmd| {
                let (next, event) = state.decide(cmd, arrival()).unwrap();
                seen.push((event.outcome, event.delta));
                (next, seen)
            })
        }

        #[test]
        fn a_sale_after_a_count_arriving_late_is_applied() {
            let (state, seen) = when(given(0, 0), &[count(20, 10), sale(3, 12)]);
            assert_eq!(state.quantity, Stock(17));
            assert_eq!(seen, [(Outcome::Adjusted, 20), (Outcome::Applied, -3)]);
        }

        #[test]
        fn a_count_arriving_after_later_sales_keeps_them() {
            // 10:00 counted 20; sales at 11:00 and 13:00 arrived first, on an item that held 30.
            let (state, seen) = when(given(30, 1), &[sale(2, 11), sale(3, 13), count(20, 10)]);
            assert_eq!(state.quantity, Stock(15), "20 counted at 10:00, less both later sales");
            assert_eq!(seen[2], (Outcome::Adjusted, 20 - 30));
        }

        #[test]
        fn a_count_older_than_the_latest_is_superseded() {
            let (state, seen) = when(given(0, 0), &[count(12, 14), count(40, 9)]);
            assert_eq!(state.quantity, Stock(12));
            assert_eq!(seen[1], (Outcome::Superseded, 0));
            assert_eq!(state.counted.unwrap().at, at(14));
        }

        #[test]
        fn a_receipt_before_the_latest_count_is_absorbed() {
            let (state, seen) = when(given(0, 0), &[count(12, 14), receipt(6, 9)]);
            assert_eq!(state.quantity, Stock(12), "the 14:00 count already saw the 09:00 delivery");
            assert_eq!(seen[1], (Outcome::Absorbed, 0));
        }

        #[test]
        fn an_offline_sale_drives_stock_negative_until_the_delivery_arrives() {
            let (state, seen) = when(given(0, 0), &[sale(5, 11)]);
            assert_eq!(state.quantity, Stock(-5));
            assert!(state.quantity.needs_count());
            assert_eq!(seen[0], (Outcome::Applied, -5));
            let (state, _) = when(state, &[receipt(24, 8)]);
            assert_eq!(state.quantity, Stock(19));
            assert!(!state.quantity.needs_count());
        }

        #[test]
        fn a_live_sale_is_still_refused_for_want_of_stock() {
            let live =
                command(Action::Remove { item: key(), quantity: Amount::new(1).unwrap(), reason: RemovalReason::Sold });
            let err = given(0, 0).decide(&live, arrival()).unwrap_err();
            assert!(matches!(err, DomainError::InsufficientStock { .. }));
        }

        #[test]
        fn a_transfer_whose_sides_fall_on_either_side_of_their_counts() {
            let van = LocationId::parse("van").unwrap();
            let out = record(
                Action::Transfer {
                    from: key().location,
                    to: van.clone(),
                    sku: key().sku,
                    quantity: Amount::new(4).unwrap(),
                },
                11,
            );
            // The source was counted at 12:00 (after the transfer left), the van at 10:00 (before it arrived).
            let (source, seen) = when(given(0, 0), &[count(8, 12), out.clone()]);
            assert_eq!((source.quantity, seen[1]), (Stock(8), (Outcome::Absorbed, 0)));
            let pending = crate::domain::PendingTransfer {
                transfer_id: crate::domain::TransferId(out.id.0),
                from: key().location,
                to: van.clone(),
                sku: key().sku,
                quantity: Amount::new(4).unwrap(),
                created_at: arrival(),
                occurred_at: Some(at(11)),
                trace: None,
            };
            let van_count = record(
                Action::Count { item: ItemKey { location: van.clone(), sku: key().sku }, quantity: Quantity::ZERO },
                10,
            );
            let van_state = ItemState::empty(ItemKey { location: van, sku: key().sku });
            let (van_state, seen) = when(van_state, &[van_count, pending.in_leg()]);
            assert_eq!((van_state.quantity, seen[1]), (Stock(4), (Outcome::Applied, 4)));
        }

        #[test]
        fn a_record_far_in_the_future_is_refused() {
            let err = given(0, 0).decide(&sale(1, 23), arrival()).unwrap_err();
            assert!(matches!(err, DomainError::InFuture { .. }));
        }

        #[test]
        fn any_arrival_order_gives_the_same_stock() {
            let records = [count(20, 10), sale(3, 11), receipt(5, 9), count(7, 13), sale(1, 14), sale(2, 12)];
            let expected = when(given(0, 0), &records).0;
            // Every rotation and its reverse: the latest count (7 at 13:00) plus the 14:00 sale, whatever came first.
            for start in 0..records.len() {
                let mut order: Vec<Command> = records[start..].iter().chain(&records[..start]).cloned().collect();
                for _ in 0..2 {
                    let state = when(given(0, 0), &order).0;
                    assert_eq!(
                        (state.quantity, state.counted, &state.history),
                        (expected.quantity, expected.counted, &expected.history)
                    );
                    order.reverse();
                }
            }
            assert_eq!(expected.quantity, Stock(6));
        }

        #[test]
        fn history_past_its_bound_folds_and_refuses_a_count_before_it() {
            let mut state = given(0, 0);
            for i in 0..=MAX_HISTORY {
                let mut cmd = receipt(1, 10);
                cmd.meta.occurred_at = Some(at(10).plus(std::time::Duration::from_secs(i as u64)));
                state = state.decide(&cmd, arrival()).unwrap().0;
            }
            assert_eq!((state.history.len(), state.quantity), (MAX_HISTORY, Stock(MAX_HISTORY as i64 + 1)));
            assert!(matches!(state.decide(&count(3, 9), arrival()), Err(DomainError::CountBeforeHistory { .. })));
            let (after, event) = state.decide(&count(3, 17), arrival()).unwrap();
            assert_eq!((after.quantity, after.history.len(), event.outcome), (Stock(3), 0, Outcome::Adjusted));
        }
    }
}
