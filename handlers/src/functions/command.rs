//! The `command` function: `POST /api/commands` and `POST /api/commands/batch`.
//!
//! A command is parsed, checked against its stored outcome (exactly-once), decided against fresh state and
//! committed with its events and marker in one conditional write; a lost race is decided again. Then its
//! events are dispatched, and a transfer's second half is applied at once (or later by the relay).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use super::dispatch::Dispatcher;
use super::stream_locks::StreamLocks;
use crate::app::App;
use crate::contract::command_body::{self, ParsedCommand};
use crate::contract::views;
use crate::domain::{self, Aggregate, Command, Decision, DomainError, EventId, ItemState, PendingTransfer, Timestamp};
use crate::http::Problem;
use crate::http::body::{BATCH_LIMIT, COMMAND_LIMIT, json_body};
use crate::ports::write_store::{CommandOutcome, Commit, CommitResult};
use crate::ports::{StoreError, WriteStore};

/// How often a command that keeps losing races is decided again before the client is told to retry.
const MAX_ATTEMPTS: usize = 64;
/// Most commands in one batch.
pub const MAX_BATCH: usize = 500;

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

impl From<&CommandError> for Problem {
    fn from(error: &CommandError) -> Self {
        match error {
            CommandError::Domain(e) => Problem::from(e),
            CommandError::IdReused => Problem::command_id_reused(),
            CommandError::Contention | CommandError::Store(StoreError::Unavailable(_)) => Problem::unavailable(error),
            CommandError::Store(StoreError::Corrupt(_)) => Problem::internal(error),
        }
    }
}

/// The answer to a command, and whether it is a replay of an earlier one.
#[derive(Debug, Clone)]
pub struct Reply {
    pub body: Value,
    pub replayed: bool,
}

/// Where a transfer's second half stands after an attempt to complete it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferProgress {
    /// Applied (or returned to the source) and cleared; the destination's state when this call applied it.
    Completed { destination: Option<ItemState> },
    /// Could not be applied now; the relay will try again.
    Pending,
}

/// A committed decision and the answer stored with it.
struct Committed {
    decision: Decision,
    body: Value,
}

/// Applies commands to the write store.
pub struct CommandService {
    store: Arc<dyn WriteStore>,
    dispatcher: Dispatcher,
    turns: StreamLocks,
}

impl CommandService {
    pub fn new(store: Arc<dyn WriteStore>, dispatcher: Dispatcher) -> Self {
        Self { store, dispatcher, turns: StreamLocks::default() }
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
        let body = views::applied_transfer(&command.id.to_string(), transfer.transfer_id, &items, &events, pending);
        Ok(Reply { body, replayed: false })
    }

    /// Decides and commits, deciding again on every lost race. `Err(outcome)`: the command was already applied.
    async fn commit(
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
            let decision = match domain::decide(command, &current, Timestamp::now()) {
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
            };
            match self.store.commit(commit).await? {
                CommitResult::Committed => {
                    self.dispatcher.spawn(decision.events.clone());
                    return Ok(Ok(Committed { decision, body }));
                }
                CommitResult::Conflict => continue,
                CommitResult::Duplicate(outcome) => return Ok(Err(outcome)),
            }
        }
        Err(CommandError::Contention)
    }

    /// Applies a transfer's second half and clears it; if the destination refuses the stock, gives it back to
    /// the source.
    pub async fn complete_transfer(&self, transfer: &PendingTransfer) -> TransferProgress {
        let in_leg = transfer.in_leg();
        let destination = match self.commit(&in_leg, &derived_hash(&in_leg)).await {
            Ok(Ok(committed)) => match committed.decision.state {
                Aggregate::Item(item) => Some(item),
                Aggregate::Product(_) => None,
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
        if let Err(error) = self.store.finish_transfer(&source, transfer.transfer_id).await {
            tracing::warn!(transfer = %transfer.transfer_id, %error, "could not clear a completed transfer; the relay will");
        }
        TransferProgress::Completed { destination }
    }
}

/// Derived commands are never sent by clients; their "body" is their id.
fn derived_hash(command: &Command) -> String {
    format!("derived:{}", command.id)
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
            views::applied_transfer(&id, t.transfer_id, std::slice::from_ref(item), &events, true)
        }
        (Aggregate::Item(item), None) => views::applied_items(&id, std::slice::from_ref(item), &events),
    }
}

fn json_response(status: StatusCode, body: &Value, replayed: bool) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    if replayed {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// `POST /api/commands`.
pub async fn post_one(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Result<Response, Problem> {
    let value = json_body(&headers, body, COMMAND_LIMIT).await?;
    let parsed = command_body::parse(&value, "").map_err(Problem::invalid)?;
    let reply = app.commands.execute(&parsed).await.map_err(|e| Problem::from(&e))?;
    Ok(json_response(StatusCode::OK, &reply.body, reply.replayed))
}

/// `POST /api/commands/batch`: each command on its own, answered in order.
pub async fn post_batch(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Result<Response, Problem> {
    let value = json_body(&headers, body, BATCH_LIMIT).await?;
    let commands = batch_commands(&value)?;
    let mut results = Vec::with_capacity(commands.len());
    for (index, entry) in commands.iter().enumerate() {
        let outcome = match command_body::parse(entry, &format!("commands[{index}].")) {
            Err(errors) => Err(Problem::invalid(errors)),
            Ok(parsed) => app.commands.execute(&parsed).await.map_err(|e| Problem::from(&e)),
        };
        results.push(match outcome {
            Ok(reply) => reply.body,
            Err(problem) => json!({
                "commandId": command_body::command_id_of(entry).map(|id| id.to_string()),
                "status": "rejected",
                "problem": problem.body(),
            }),
        });
    }
    Ok(json_response(StatusCode::OK, &json!({ "results": results }), false))
}

/// The batch's `commands` array, or the 400 that rejects the whole batch.
fn batch_commands(value: &Value) -> Result<&Vec<Value>, Problem> {
    let object = value.as_object().ok_or_else(|| Problem::invalid_field("$", "must be an object with 'commands'"))?;
    if let Some(unknown) = object.keys().find(|k| k.as_str() != "commands") {
        return Err(Problem::invalid_field(unknown, "is not a field of a batch"));
    }
    let commands = object
        .get("commands")
        .and_then(Value::as_array)
        .ok_or_else(|| Problem::invalid_field("commands", "must be an array of commands"))?;
    if commands.is_empty() || commands.len() > MAX_BATCH {
        return Err(Problem::invalid_field("commands", "must hold 1 to 500 commands"));
    }
    Ok(commands)
}
