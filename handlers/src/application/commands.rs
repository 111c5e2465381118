//! Executing a command: exactly once, decided against fresh state, committed with its events and marker in one
//! conditional write (a lost race is decided again), then its events dispatched; a transfer's second half is
//! applied at once (`transfers.rs`), or later by the relay.

use std::sync::Arc;

use serde_json::Value;

use super::dispatch::Dispatcher;
use super::stream_turns::StreamTurns;
use super::transfers::TransferProgress;
use crate::contract::command_body::ParsedCommand;
use crate::contract::views;
use crate::domain::{self, Aggregate, Command, Decision, DomainError, Event, EventId, Outcome, Timestamp};
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
}

/// The answer to a command, and whether it is a replay of an earlier one.
#[derive(Debug, Clone)]
pub struct Reply {
    pub body: Value,
    pub replayed: bool,
}

/// A committed decision and the answer stored with it.
pub(super) struct Committed {
    pub(super) decision: Decision,
    pub(super) body: Value,
}

/// Applies commands to the write store.
pub struct CommandService {
    store: Arc<dyn CommandStore>,
    pub(super) transfers: Arc<dyn Transfers>,
    dispatcher: Dispatcher,
    turns: StreamTurns,
}

impl CommandService {
    pub fn new(store: Arc<dyn CommandStore>, transfers: Arc<dyn Transfers>, dispatcher: Dispatcher) -> Self {
        Self { store, transfers, dispatcher, turns: StreamTurns::default() }
    }

    /// The newest event this process has committed since it started (for the freshness indicator).
    pub fn last_accepted(&self) -> Option<crate::domain::Timestamp> {
        self.dispatcher.last_accepted()
    }

    /// Applies a command exactly once: a retry with the same id and body gets the stored answer.
    pub async fn execute(&self, parsed: &ParsedCommand) -> Result<Reply, CommandError> {
        let command = &parsed.command;
        // No marker lookup up front: the commit itself refuses a second marker atomically and hands back the
        // stored outcome. Only a refusal needs a look, because a retried command may be refused by the state
        // its first attempt created (a retried removal of the last stock, a stale expectedVersion).
        let committed = match self.commit(command, &parsed.request_hash).await {
            Ok(Ok(committed)) => committed,
            Ok(Err(outcome)) => return replay(&outcome, &parsed.request_hash),
            Err(CommandError::Domain(refusal)) => {
                return match self.store.outcome(&command.action.stream(), command.id).await? {
                    Some(outcome) => replay(&outcome, &parsed.request_hash),
                    None => Err(CommandError::Domain(refusal)),
                };
            }
            Err(error) => return Err(error),
        };
        let (Some(transfer), Aggregate::Item(source)) = (&committed.decision.transfer, &committed.decision.state)
        else {
            return Ok(Reply { body: committed.body, replayed: false });
        };
        let source = source.clone();
        let destination = self.complete_transfer(transfer).await;
        let events: Vec<EventId> = committed.decision.events.iter().map(|e| e.id()).collect();
        let (items, pending) = match destination {
            TransferProgress::Completed { destination: Some(destination) } => (vec![source, destination], false),
            TransferProgress::Completed { destination: None } => (vec![source], false),
            TransferProgress::Pending => (vec![source], true),
        };
        let body = views::applied_transfer(
            &command.id.to_string(),
            transfer.transfer_id,
            outcome(&committed.decision),
            &items,
            &events,
            pending,
        );
        Ok(Reply { body, replayed: false })
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
            let body = answer(command, &decision);
            let commit = Commit {
                stream: stream.clone(),
                expected,
                state: decision.state.clone(),
                events: decision.events.clone(),
                outcome: CommandOutcome {
                    command_id: command.id,
                    request_hash: request_hash.to_owned(),
                    response: body.to_string(),
                },
                transfer: decision.transfer.clone(),
                ledger: decision.ledger,
            };
            match self.store.commit(commit).await? {
                CommitResult::Committed { .. } => {
                    self.dispatcher.spawn(decision.events.clone());
                    return Ok(Ok(Committed { decision, body }));
                }
                CommitResult::Conflict => continue,
                CommitResult::Duplicate(outcome) => return Ok(Err(outcome)),
            }
        }
        Err(CommandError::Contention)
    }
}

fn replay(outcome: &CommandOutcome, request_hash: &str) -> Result<Reply, CommandError> {
    if outcome.request_hash != request_hash {
        return Err(CommandError::IdReused);
    }
    Ok(Reply { body: views::as_duplicate(&outcome.response), replayed: true })
}

/// The answer stored with the commit (a transfer's says `pending` until its second half is seen).
fn answer(command: &Command, decision: &Decision) -> Value {
    let id = command.id.to_string();
    let events: Vec<EventId> = decision.events.iter().map(|e| e.id()).collect();
    match (&decision.state, &decision.transfer) {
        (Aggregate::Product(product), _) => views::applied_product(&id, product, &events),
        (Aggregate::Item(item), Some(t)) => {
            views::applied_transfer(&id, t.transfer_id, outcome(decision), std::slice::from_ref(item), &events, true)
        }
        (Aggregate::Item(item), None) => {
            views::applied_items(&id, outcome(decision), std::slice::from_ref(item), &events)
        }
    }
}

/// What a stock command did to the stream it was decided on (its first event), and by how much.
fn outcome(decision: &Decision) -> (Outcome, i64) {
    match decision.events.first() {
        Some(Event::Stock(event)) => (event.outcome, event.delta),
        _ => (Outcome::Applied, 0),
    }
}
