//! The documents of one logical partition (partition key `/pk` = the stream, e.g. `store-1/apple-pie`):
//! the stream's state (id `state`), its events (id = event id), command markers (id `marker-<command id>`)
//! pending transfers (id `transfer-<transfer id>`) and its ledger's movements (id `movement-<command id>`).
//! Everything a command changes lives in one partition, so one transactional batch commits it. Markers and
//! claims carry a `ttl` (the idempotency window): the container's default TTL is -1 (on, nothing expires unless
//! it says so), so only they expire.

use serde_json::{Value, json};

use crate::contract::event_json;
use crate::domain::{Aggregate, CommandId, Event, Mark, Movement, PendingTransfer, StreamId, TransferId};
use crate::ports::write_store::CommandOutcome;

pub const STATE_ID: &str = "state";
pub const CLAIM_ID: &str = "claim";

/// The partition of a command's claim: one per command id, and never a stream (streams have no `:`).
pub fn claim_partition(command: CommandId) -> String {
    format!("claim:{command}")
}

/// A command id's claim: which stream and which body it belongs to. Markers live in their stream's partition
/// (so one batch commits them with the state), which alone cannot see the same id used on another stream;
/// the claim, written before the batch, can.
pub fn claim(command: CommandId, stream: &StreamId, request_hash: &str, ttl: u64) -> Value {
    json!({"id": CLAIM_ID, "pk": claim_partition(command), "kind": "claim", "stream": stream.to_string(),
           "requestHash": request_hash, "ttl": ttl})
}

pub fn marker_id(command: CommandId) -> String {
    format!("marker-{command}")
}

pub fn transfer_id(transfer: TransferId) -> String {
    format!("transfer-{transfer}")
}

pub fn state(stream: &StreamId, aggregate: &Aggregate) -> Value {
    json!({"id": STATE_ID, "pk": stream.to_string(), "kind": "state", "version": aggregate.version(), "state": aggregate})
}

/// An event document; `unpublished` is present only until the event is published, so the relay's query
/// reads a small index.
pub fn event(event: &Event) -> Value {
    json!({
        "id": event.id().to_string(),
        "pk": event.stream().to_string(),
        "kind": "event",
        "version": event.version(),
        "recordedAt": event.recorded_at().to_string(),
        "unpublished": true,
        "event": event_json::to_cloud_event(event),
    })
}

/// A command's marker, expiring `ttl` seconds after its last write.
pub fn marker(stream: &StreamId, outcome: &CommandOutcome, ttl: u64) -> Value {
    json!({
        "id": marker_id(outcome.command_id),
        "pk": stream.to_string(),
        "kind": "marker",
        "requestHash": outcome.request_hash,
        "response": outcome.response,
        "ttl": ttl,
    })
}

pub fn movement_id(command: CommandId) -> String {
    format!("movement-{command}")
}

/// Where a mark sorts among movements, as text: the fixed-width timestamp, then the lower-case command id.
pub fn mark_text(mark: Mark) -> String {
    format!("{} {}", mark.at, mark.command)
}

/// Text after every mark's (`~` sorts after digits).
pub const AFTER_EVERY_MARK: &str = "~";

/// One movement of an item's ledger.
pub fn movement(stream: &StreamId, movement: &Movement) -> Value {
    json!({
        "id": movement_id(movement.1),
        "pk": stream.to_string(),
        "kind": "movement",
        "mark": mark_text(movement.mark()),
        "delta": movement.2,
    })
}

pub fn transfer(stream: &StreamId, transfer: &PendingTransfer) -> Value {
    json!({
        "id": transfer_id(transfer.transfer_id),
        "pk": stream.to_string(),
        "kind": "transfer",
        "createdAt": transfer.created_at.to_string(),
        "transfer": transfer,
    })
}

/// Reads a marker document back.
pub fn outcome_of(command: CommandId, doc: &Value) -> Option<CommandOutcome> {
    Some(CommandOutcome {
        command_id: command,
        request_hash: doc.get("requestHash")?.as_str()?.to_owned(),
        response: doc.get("response")?.as_str()?.to_owned(),
    })
}
