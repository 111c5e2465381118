//! Executing a command: exactly once, decided against fresh state, committed with its events and marker in one
//! conditional write (a lost race is decided again), then its events dispatched; a transfer's second half is
//! applied at once (`transfers.rs`), or later by the relay.

use std::sync::Arc;

use super::dispatch::Dispatcher;
use super::stream_turns::StreamTurns;
use super::transfers::TransferProgress;
use crate::contract::FieldError;
use crate::contract::command_body::ParsedCommand;
use crate::domain::UnknownLocations;
use crate::domain::answer::{Changed, CommandAnswer, ItemAnswer, TransferAnswer};
use crate::domain::{self, Aggregate, Command, CommandMeta, Decision, DomainError, Event, Outcome, Timestamp};
use crate::ports::write_store::{CommandOutcome, Commit, CommitResult};
use crate::ports::{CommandStore, StoreError, Transfers};

/// How often a command that keeps losing races is decided again before the client is told to retry.
const MAX_ATTEMPTS: usize = 64;

/// Why a command was not applied.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("commandId reused with a different body")]
    IdReused,
    #[error("too much contention on one item; retry")]
    Contention,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A command sent with a barcode that does not parse once its sku is in the barcode's place: the parser's
    /// rules disagree with themselves (a bug), answered as the invalid request it would be.
    #[error("the command does not parse with the sku its barcode names")]
    Unresolved(Vec<FieldError>),
}

/// The answer to a command, and whether it is a replay of an earlier one (answered as a `duplicate`).
#[derive(Debug, Clone)]
pub struct Reply {
    pub answer: CommandAnswer,
    pub replayed: bool,
}

/// A committed decision and the answer stored with it.
pub(super) struct Committed {
    pub(super) decision: Decision,
    pub(super) answer: CommandAnswer,
}

/// Applies commands to the write store.
pub struct CommandService {
    pub(super) store: Arc<dyn CommandStore>,
    pub(super) transfers: Arc<dyn Transfers>,
    dispatcher: Dispatcher,
    turns: StreamTurns,
    /// `PIESHOP_UNKNOWN_LOCATIONS` (`location_check.rs`).
    pub(super) unknown_locations: UnknownLocations,
}

impl CommandService {
    pub fn new(store: Arc<dyn CommandStore>, transfers: Arc<dyn Transfers>, dispatcher: Dispatcher) -> Self {
        Self { store, transfers, dispatcher, turns: StreamTurns::default(), unknown_locations: UnknownLocations::Allow }
    }

    /// Checks the locations commands name, as `PIESHOP_UNKNOWN_LOCATIONS` says (`location_check.rs`).
    pub fn with_unknown_locations(mut self, policy: UnknownLocations) -> Self {
        self.unknown_locations = policy;
        self
    }

    /// The newest event this process has committed since it started (for the freshness indicator).
    pub fn last_accepted(&self) -> Option<crate::domain::Timestamp> {
        self.dispatcher.last_accepted()
    }

    /// The command to decide: as sent, or with the sku its barcode names. A barcode no product has is refused
    /// before anything is written, not even the command's marker, so the same command sent again once the
    /// product is defined applies.
    async fn resolve(&self, parsed: &ParsedCommand) -> Result<Command, CommandError> {
        let sku = match parsed.barcode() {
            None => None,
            Some(barcode) => Some(
                self.store
                    .sku_for_barcode(barcode)
                    .await?
                    .ok_or_else(|| DomainError::UnknownBarcode { barcode: barcode.clone() })?,
            ),
        };
        parsed.command(sku.as_ref()).map_err(CommandError::Unresolved)
    }

    /// Applies a command exactly once: a retry with the same id and body gets the stored answer.
    pub async fn execute(&self, parsed: &ParsedCommand) -> Result<Reply, CommandError> {
        let resolved = self.resolve(parsed).await?;
        let flagged;
        let command = match self.admit(&resolved).await {
            Ok(false) => &resolved,
            Ok(true) => {
                let meta = CommandMeta { unknown_location: true, ..resolved.meta.clone() };
                flagged = Command { meta, ..resolved.clone() };
                &flagged
            }
            Err(CommandError::Domain(refusal)) => return self.refused(&resolved, refusal, parsed).await,
            Err(error) => return Err(error),
        };
        // No marker lookup up front: the commit itself refuses a second marker atomically and hands back the
        // stored outcome. Only a refusal needs a look, because a retried command may be refused by the state
        // its first attempt created (a retried removal of the last stock, a stale expectedVersion, a location
        // retired since).
        let committed = match self.commit(command, &parsed.request_hash).await {
            Ok(Ok(committed)) => committed,
            Ok(Err(outcome)) => return replay(&outcome, &parsed.request_hash),
            Err(CommandError::Domain(refusal)) => return self.refused(command, refusal, parsed).await,
            Err(error) => return Err(error),
        };
        let (Some(transfer), Aggregate::Item(source)) = (&committed.decision.transfer, &committed.decision.state)
        else {
            return Ok(Reply { answer: committed.answer, replayed: false });
        };
        let source = ItemAnswer::from(source);
        let (items, pending) = match self.complete_transfer(transfer).await {
            TransferProgress::Completed { destination: Some(destination) } => {
                (vec![source, (&destination).into()], false)
            }
            TransferProgress::Completed { destination: None } => (vec![source], false),
            TransferProgress::Pending => (vec![source], true),
        };
        let answer = CommandAnswer {
            changed: Changed::Items(items),
            transfer: Some(TransferAnswer { transfer_id: transfer.transfer_id, pending }),
            ..committed.answer
        };
        Ok(Reply { answer, replayed: false })
    }

    /// A refused command's stored answer if it was applied before (a retry), else the refusal.
    async fn refused(
        &self,
        command: &Command,
        refusal: DomainError,
        parsed: &ParsedCommand,
    ) -> Result<Reply, CommandError> {
        match self.store.outcome(&command.action.stream(), command.id).await? {
            Some(outcome) => replay(&outcome, &parsed.request_hash),
            None => Err(CommandError::Domain(refusal)),
        }
    }

    /// Decides and commits, deciding again on every lost race. `Err(outcome)`: the command was already applied.
    pub(super) async fn commit(
        &self,
        command: &Command,
        request_hash: &str,
    ) -> Result<Result<Committed, CommandOutcome>, CommandError> {
        let stream = command.action.stream();
        let _turn = self.turns.turn(&stream).await;
        for _ in 0..MAX_ATTEMPTS {
            let snapshot = self.store.load(&stream).await?;
            let (current, expected, cached) = match snapshot {
                Some(s) => (s.aggregate, Some(s.etag), s.cached),
                None => (Aggregate::empty(&stream), None, false),
            };
            // Only a count landing among an item's movements reads its ledger; every other command decides on the
            // state alone.
            let now = Timestamp::now();
            let ledger = match domain::ledger_read(command, &current, now) {
                Some(read) => Some(self.store.ledger_sum(&stream, read).await?),
                None => None,
            };
            let decision = match domain::decide(command, &current, now, ledger) {
                Ok(decision) => decision,
                // Only the stored state may refuse: a copy in memory can miss another process's commit.
                Err(_) if cached => {
                    self.store.forget(&stream);
                    continue;
                }
                Err(refusal) => return Err(refusal.into()),
            };
            let answer = answer(command, &decision);
            let commit = Commit {
                stream: stream.clone(),
                expected,
                state: decision.state.clone(),
                events: decision.events.clone(),
                outcome: CommandOutcome {
                    command_id: command.id,
                    request_hash: request_hash.to_owned(),
                    answer: Some(answer.clone()),
                },
                transfer: decision.transfer.clone(),
                ledger: decision.ledger,
                barcodes: decision.barcodes.clone(),
            };
            match self.store.commit(commit).await? {
                CommitResult::Committed { .. } => {
                    self.dispatcher.spawn(decision.events.clone());
                    return Ok(Ok(Committed { decision, answer }));
                }
                CommitResult::Conflict => continue,
                CommitResult::Duplicate(outcome) => return Ok(Err(outcome)),
                CommitResult::BarcodeTaken { barcode, sku } => {
                    return Err(DomainError::BarcodeTaken { barcode, sku }.into());
                }
            }
        }
        Err(CommandError::Contention)
    }
}

fn replay(outcome: &CommandOutcome, request_hash: &str) -> Result<Reply, CommandError> {
    if outcome.request_hash != request_hash {
        return Err(CommandError::IdReused);
    }
    let answer =
        outcome.answer.clone().ok_or_else(|| StoreError::Corrupt("a marker with its hash but no answer".into()))?;
    Ok(Reply { answer, replayed: true })
}

/// The answer stored with the commit (a transfer's says `pending` until its second half is seen).
fn answer(command: &Command, decision: &Decision) -> CommandAnswer {
    let (outcome, delta) = match decision.events.first() {
        Some(Event::Stock(event)) => (event.outcome, event.delta),
        _ => (Outcome::Applied, 0),
    };
    let changed = match &decision.state {
        Aggregate::Product(product) => Changed::Product(product.clone()),
        Aggregate::Location(location) => Changed::Location(location.clone()),
        Aggregate::Item(item) => Changed::Items(vec![item.into()]),
    };
    CommandAnswer {
        command_id: command.id,
        outcome,
        delta: (outcome == Outcome::Adjusted).then_some(delta),
        changed,
        events: decision.events.iter().map(|e| e.id()).collect(),
        transfer: decision.transfer.as_ref().map(|t| TransferAnswer { transfer_id: t.transfer_id, pending: true }),
        unknown_location: command.meta.unknown_location,
    }
}
