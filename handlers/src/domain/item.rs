//! An item (a sku at a location): its stock, and the decisions that change it.

use serde::{Deserialize, Serialize};

use super::quantity::MAX_QUANTITY;
use super::{Action, Command, CommandId, DomainError, EventId, EventKind, ItemKey, Outcome, Stock, StockEvent};
use super::{StreamId, Timestamp, TransferLeg, Version};

/// How far a record's `occurredAt` may lie ahead of the server's clock: scanners' clocks drift.
pub const CLOCK_SKEW: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// Where a record falls in an item's history: by `occurredAt` (arrival for live commands), ties broken by command id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Mark {
    pub at: Timestamp,
    pub command: CommandId,
}

/// A movement since the item's latest count: one row (document) of its ledger. Written as a three-element
/// array where it is stored inline (before the ledger, states kept thousands).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Movement(pub Timestamp, pub CommandId, pub i64);

impl Movement {
    pub fn mark(&self) -> Mark {
        Mark { at: self.0, command: self.1 }
    }
}

/// The marks an item's ledger spans: no kept movement lies outside `first..=last`. `last` is the newest movement;
/// `first` the oldest, or the latest count when that compacted what came before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub first: Mark,
    pub last: Mark,
}

/// The movements a decision needs summed: those after `after` (from the start when `None`) up to and including
/// `through` (to the newest when `None`). Only a count that lands among the item's movements asks for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerRead {
    pub after: Option<Mark>,
    pub through: Option<Mark>,
}

/// What a decision does to the item's ledger, committed with its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LedgerChange {
    #[default]
    None,
    /// A movement after the latest count joins the ledger.
    Append(Movement),
    /// A count at this mark: nothing at or before it is read again, and the store may delete it.
    Compact(Mark),
}

/// Stock at one item, at a version (0: nothing ever happened here), with what a live command and the rules for
/// records need. The movements themselves are in the item's ledger (`ports::CommandStore::movements`), read only
/// for a count that lands among them, so no command's cost grows with them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemState {
    pub key: ItemKey,
    pub quantity: Stock,
    pub version: Version,
    /// The latest count by `occurredAt`: movements before it are absorbed, counts before it superseded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counted: Option<Mark>,
    /// What the item held where its ledger starts (at `counted`, or before anything happened): `quantity` is
    /// `base` plus every kept movement. Always written: a state without it predates the ledger, and its store
    /// moves it over before deciding on it (`adopt_inline_history`).
    #[serde(default)]
    pub base: i64,
    /// Where the kept movements lie; `None`: there are none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger: Option<Span>,
    /// Only in states written before the ledger, which folded movements past 10,000 into the stock: no count at or
    /// before this mark can be placed (`DomainError::CountBeforeHistory`). The ledger itself has no bound.
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

/// A stock command's decision: the item's next state, its event, and what it adds to or compacts in the ledger.
pub type ItemDecision = (ItemState, StockEvent, LedgerChange);

impl ItemState {
    pub fn empty(key: ItemKey) -> Self {
        Self { key, quantity: Stock::ZERO, version: Version::NONE, counted: None, base: 0, ledger: None, horizon: None }
    }

    /// Where a command falls: its `occurredAt`, or now for a live command.
    fn mark_of(command: &Command, now: Timestamp) -> Mark {
        Mark { at: command.meta.occurred_at.unwrap_or(now), command: command.id }
    }

    /// The movements `decide` needs summed for this command, if any: only a count landing after the latest count
    /// and among kept movements needs them, and then only the side of it nearer in time to an end of the ledger.
    /// A movement, and a count before or after every movement, need none; so a live command needs none unless a
    /// record dated ahead of the server's clock (within `CLOCK_SKEW`) is kept, and then only the few after now.
    pub fn ledger_read(&self, command: &Command, now: Timestamp) -> Option<LedgerRead> {
        if !matches!(command.action, Action::Count { .. }) {
            return None;
        }
        let mark = Self::mark_of(command, now);
        let span = self.ledger?;
        if self.counted.is_some_and(|counted| mark < counted) || mark < span.first || mark >= span.last {
            return None;
        }
        let before = mark.at.unix_seconds() - span.first.at.unix_seconds();
        let after = span.last.at.unix_seconds() - mark.at.unix_seconds();
        Some(if before <= after {
            LedgerRead { after: self.counted, through: Some(mark) }
        } else {
            LedgerRead { after: Some(mark), through: None }
        })
    }

    /// Decides a stock command against this state: the next state, its event and ledger change, or why not.
    /// `action` must be a stock action on this item (the caller routes by `Action::stream`). `ledger` is the sum
    /// of the movements `ledger_read` named for this command (`None` when it named none).
    ///
    /// A command with `occurredAt` is a record of what happened then, placed in the item's history by that time;
    /// one without happened now, and only it can be refused for want of stock or room (`docs/API.md`, Offline records).
    pub fn decide(&self, command: &Command, now: Timestamp, ledger: Option<i64>) -> Result<ItemDecision, DomainError> {
        check_expected(command, self.version)?;
        let record = command.meta.occurred_at;
        if let Some(occurred_at) = record
            && occurred_at > now.plus(CLOCK_SKEW)
        {
            return Err(DomainError::InFuture { occurred_at, now });
        }
        let mark = Self::mark_of(command, now);
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
            Action::DefineProduct { .. } | Action::DefineLocation { .. } | Action::RetireLocation { .. } => {
                unreachable!("product and location commands are routed to their own streams")
            }
        };
        let read = self.ledger_read(command, now);
        let mut next = self.clone();
        next.version = self.version.next();
        let before_count = self.counted.is_some_and(|counted| mark < counted);
        let (outcome, delta, amount, change) = match change {
            Change::Move(delta) if before_count => (Outcome::Absorbed, 0, delta.unsigned_abs(), LedgerChange::None),
            Change::Move(delta) => {
                if record.is_none() {
                    self.check_live(delta)?;
                }
                let movement = Movement(mark.at, mark.command, delta);
                next.record_movement(movement);
                (Outcome::Applied, delta, delta.unsigned_abs(), LedgerChange::Append(movement))
            }
            Change::Count(counted) if before_count => (Outcome::Superseded, 0, u64::from(counted), LedgerChange::None),
            Change::Count(counted) => {
                if let Some(horizon) = self.horizon
                    && mark <= horizon
                {
                    return Err(DomainError::CountBeforeHistory { occurred_at: mark.at, horizon: horizon.at });
                }
                let held = self.held_at(mark, read, ledger);
                (
                    Outcome::Adjusted,
                    next.record_count(mark, counted, held),
                    u64::from(counted),
                    LedgerChange::Compact(mark),
                )
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
            unknown_location: command.meta.unknown_location,
            trace: command.meta.trace.clone(),
            caller: command.meta.caller.clone(),
        };
        Ok((next, event, change))
    }

    /// What the item held just before `mark` (after the latest count): from the state alone when no kept
    /// movement is on one side of it, else from the sum of the side `read` named.
    fn held_at(&self, mark: Mark, read: Option<LedgerRead>, sum: Option<i64>) -> i64 {
        let Some(read) = read else {
            return match self.ledger {
                Some(span) if mark < span.first => self.base,
                _ => self.quantity.0,
            };
        };
        let sum = sum.expect("the caller sums the movements ledger_read names");
        match read.through {
            Some(_) => self.base + sum,
            None => self.quantity.0 - sum,
        }
    }

    /// Takes a state written before the ledger, whose movements since its latest count (`history`, in order)
    /// have just been moved to the ledger: where the ledger starts and what it spans.
    pub fn adopt_inline_history(&mut self, history: &[Movement]) {
        self.base = self.quantity.0 - history.iter().map(|m| m.2).sum::<i64>();
        if let (Some(first), Some(last)) = (history.first(), history.last()) {
            self.ledger = Some(Span { first: first.mark(), last: last.mark() });
        }
    }

    /// Adds a movement after the latest count: to the stock, and to where the ledger spans.
    fn record_movement(&mut self, movement: Movement) {
        self.quantity.0 += movement.2;
        let mark = movement.mark();
        self.ledger = Some(match self.ledger {
            None => Span { first: mark, last: mark },
            Some(span) => Span { first: span.first.min(mark), last: span.last.max(mark) },
        });
    }

    /// Makes `counted` true at `mark`, given what the item held then; returns the change to the stock now.
    fn record_count(&mut self, mark: Mark, counted: u32, held: i64) -> i64 {
        let delta = i64::from(counted) - held;
        self.quantity.0 += delta;
        self.base = i64::from(counted);
        self.counted = Some(mark);
        self.ledger = self.ledger.filter(|span| span.last > mark).map(|span| Span { first: mark, last: span.last });
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
        ItemState { quantity: Stock(quantity), base: quantity, version: Version(version), ..ItemState::empty(key()) }
    }

    #[test]
    fn receive_adds_and_bumps_the_version() {
        let cmd = command(Action::Receive { item: key(), quantity: Amount::new(5).unwrap() });
        let (next, event, _) = given(3, 7).decide(&cmd, Timestamp::now(), None).unwrap();
        assert_eq!((next.quantity.get(), next.version), (8, Version(8)));
        assert_eq!((event.delta, event.quantity.get(), event.kind), (5, 8, EventKind::StockReceived));
        assert_eq!(event.outcome, Outcome::Applied);
    }

    #[test]
    fn removing_more_than_on_hand_is_refused_with_the_shortfall() {
        let cmd =
            command(Action::Remove { item: key(), quantity: Amount::new(4).unwrap(), reason: RemovalReason::Sold });
        let err = given(3, 1).decide(&cmd, Timestamp::now(), None).unwrap_err();
        assert_eq!(err, DomainError::InsufficientStock { available: Stock(3), requested: 4 });
    }

    #[test]
    fn count_sets_the_absolute_quantity_with_a_signed_delta() {
        let cmd = command(Action::Count { item: key(), quantity: Quantity::new(2).unwrap() });
        let (next, event, _) = given(10, 4).decide(&cmd, Timestamp::now(), None).unwrap();
        assert_eq!((next.quantity.get(), event.delta, event.outcome), (2, -8, Outcome::Adjusted));
    }

    #[test]
    fn a_stale_expected_version_is_a_conflict() {
        let mut cmd = command(Action::Receive { item: key(), quantity: Amount::new(1).unwrap() });
        cmd.meta.expected_version = Some(Version(2));
        let err = given(3, 5).decide(&cmd, Timestamp::now(), None).unwrap_err();
        assert_eq!(err, DomainError::VersionConflict { expected: Version(2), actual: Version(5) });
    }

    #[test]
    fn stock_cannot_exceed_the_limit() {
        let cmd = command(Action::Receive { item: key(), quantity: Amount::new(2).unwrap() });
        assert!(matches!(
            given(999_999, 1).decide(&cmd, Timestamp::now(), None),
            Err(DomainError::QuantityLimit { .. })
        ));
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
        let (next, event, _) = given(5, 1).decide(&cmd, Timestamp::now(), None).unwrap();
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

        /// An item's state with its ledger, kept as a store keeps them.
        #[derive(Debug, Clone)]
        struct Kept {
            state: ItemState,
            ledger: Vec<Movement>,
        }

        impl From<ItemState> for Kept {
            fn from(state: ItemState) -> Self {
                Kept { state, ledger: Vec::new() }
            }
        }

        impl std::ops::Deref for Kept {
            type Target = ItemState;
            fn deref(&self) -> &ItemState {
                &self.state
            }
        }

        impl Kept {
            /// Decides as the application does: sums what `ledger_read` names, then commits the ledger change.
            fn apply(mut self, cmd: &Command, now: Timestamp) -> Result<(Kept, StockEvent), DomainError> {
                let sum = self.state.ledger_read(cmd, now).map(|read| {
                    let inside = |m: &&Movement| {
                        read.after.is_none_or(|after| m.mark() > after)
                            && read.through.is_none_or(|through| m.mark() <= through)
                    };
                    self.ledger.iter().filter(inside).map(|m| m.2).sum()
                });
                let (state, event, change) = self.state.decide(cmd, now, sum)?;
                match change {
                    LedgerChange::Append(movement) => self.ledger.push(movement),
                    LedgerChange::Compact(mark) => self.ledger.retain(|m| m.mark() > mark),
                    LedgerChange::None => {}
                }
                assert_eq!(state.quantity.0, state.base + self.ledger.iter().map(|m| m.2).sum::<i64>());
                Ok((Kept { state, ledger: self.ledger }, event))
            }
        }

        /// Applies commands in arrival order; the state after, and each event's (outcome, delta).
        fn when(state: impl Into<Kept>, commands: &[Command]) -> (Kept, Vec<(Outcome, i64)>) {
            commands.iter().fold((state.into(), vec![]), |(kept, mut seen), cmd| {
                let (next, event) = kept.apply(cmd, arrival()).unwrap();
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
            let err = given(0, 0).decide(&live, arrival(), None).unwrap_err();
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
                caller: None,
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
            let err = given(0, 0).decide(&sale(1, 23), arrival(), None).unwrap_err();
            assert!(matches!(err, DomainError::InFuture { .. }));
        }

        /// Sorted movements, so ledgers filled in different orders compare equal.
        fn sorted(ledger: &[Movement]) -> Vec<Movement> {
            let mut ledger = ledger.to_vec();
            ledger.sort_by_key(Movement::mark);
            ledger
        }

        #[test]
        fn any_arrival_order_gives_the_same_stock() {
            let records = [count(20, 10), sale(3, 11), receipt(5, 9), count(7, 13), sale(1, 14), sale(2, 12)];
            let expected = when(given(0, 0), &records).0;
            // Every rotation and its reverse: the latest count (7 at 13:00) plus the 14:00 sale, whatever came first.
            for start in 0..records.len() {
                let mut order: Vec<Command> = records[start..].iter().chain(&records[..start]).cloned().collect();
                for _ in 0..2 {
                    let kept = when(given(0, 0), &order).0;
                    let live = |k: &Kept| {
                        sorted(&k.ledger).into_iter().filter(|m| Some(m.mark()) > k.counted).collect::<Vec<_>>()
                    };
                    assert_eq!(
                        (kept.quantity, kept.counted, kept.base, live(&kept)),
                        (expected.quantity, expected.counted, expected.base, live(&expected))
                    );
                    order.reverse();
                }
            }
            assert_eq!(expected.quantity, Stock(6));
        }

        /// `n` receipts of 1 to 7, one a second from 10:00:01.
        fn receipts(n: u32) -> Vec<Command> {
            (1..=n)
                .map(|i| {
                    let mut cmd = receipt(i % 7 + 1, 10);
                    cmd.meta.occurred_at = Some(at(10).plus(std::time::Duration::from_secs(u64::from(i))));
                    cmd
                })
                .collect()
        }

        #[test]
        fn a_count_among_movements_reads_only_the_nearer_side_and_any_order_agrees() {
            let mut movements = receipts(40);
            let mut count = count(100, 10);
            count.meta.occurred_at = Some(at(10).plus(std::time::Duration::from_secs(10)));
            let filled = when(given(0, 0), &movements).0;
            let read = filled.ledger_read(&count, arrival()).expect("a count among movements reads the ledger");
            assert_eq!((read.after, read.through.map(|m| m.at)), (None, count.meta.occurred_at), "the older side");
            let mut late = count.clone();
            late.meta.occurred_at = Some(at(10).plus(std::time::Duration::from_secs(30)));
            assert_eq!(filled.ledger_read(&late, arrival()).unwrap().through, None, "the newer side");
            let expected = when(filled, &[count.clone(), late.clone()]).0;
            movements.extend([count, late]);
            for seed in 0..8 {
                let order = shuffled(&movements, seed);
                let kept = when(given(0, 0), &order).0;
                assert_eq!((kept.quantity, kept.counted), (expected.quantity, expected.counted), "seed {seed}");
            }
        }

        /// A deterministic shuffle (Fisher-Yates on a 64-bit LCG).
        fn shuffled(commands: &[Command], seed: u64) -> Vec<Command> {
            let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let mut out = commands.to_vec();
            for i in (1..out.len()).rev() {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                out.swap(i, (state >> 33) as usize % (i + 1));
            }
            out
        }

        #[test]
        fn past_ten_thousand_movements_a_count_before_them_all_is_still_placed() {
            let movements = receipts(10_001);
            let total: i64 = (1..=10_001u32).map(|i| i64::from(i % 7 + 1)).sum();
            let (kept, _) = when(given(0, 0), &movements);
            assert_eq!((kept.ledger.len(), kept.quantity), (10_001, Stock(total)));
            assert_eq!(kept.ledger_read(&count(3, 9), arrival()), None, "before every movement: no read");
            let (after, seen) = when(kept, &[count(3, 9)]);
            assert_eq!((after.quantity, seen[0].0), (Stock(3 + total), Outcome::Adjusted));
        }

        #[test]
        fn only_a_count_record_among_movements_reads_the_ledger() {
            let filled = when(given(0, 0), &receipts(10)).0;
            let mut among = count(4, 10);
            among.meta.occurred_at = Some(at(10).plus(std::time::Duration::from_secs(5)));
            assert!(filled.ledger_read(&among, arrival()).is_some());
            let live_count = command(Action::Count { item: key(), quantity: Quantity::new(4).unwrap() });
            let live_sale =
                command(Action::Remove { item: key(), quantity: Amount::new(1).unwrap(), reason: RemovalReason::Sold });
            for cmd in [live_count, live_sale, sale(1, 10), receipt(1, 9), count(4, 9), count(4, 17)] {
                assert_eq!(filled.ledger_read(&cmd, arrival()), None, "{:?}", cmd.action);
            }
        }

        #[test]
        fn a_live_count_keeps_a_record_dated_just_ahead_of_the_clock() {
            let ahead = receipt(6, 18); // 18:00 is now; the scanner's clock runs a little fast
            let mut ahead = ahead;
            ahead.meta.occurred_at = Some(arrival().plus(std::time::Duration::from_secs(120)));
            let live = command(Action::Count { item: key(), quantity: Quantity::new(10).unwrap() });
            let (kept, _) = when(given(0, 0), &[ahead, live]);
            assert_eq!(kept.quantity, Stock(16), "counted 10 now, then the receipt two minutes later");
        }

        #[test]
        fn a_state_from_before_the_ledger_still_refuses_a_count_before_its_horizon() {
            let mut state = given(10, 3);
            state.horizon = Some(Mark { at: at(9), command: CommandId(uuid::Uuid::nil()) });
            assert!(matches!(state.decide(&count(3, 8), arrival(), None), Err(DomainError::CountBeforeHistory { .. })));
            assert_eq!(state.decide(&count(3, 10), arrival(), None).unwrap().0.quantity, Stock(3));
        }
    }
}
