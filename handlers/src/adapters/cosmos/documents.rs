//! The documents of one logical partition (partition key `/pk` = the stream, e.g. `store-1/apple-pie`):
//! the stream's state (id `state`), its events (id = event id), command markers (id `marker-<command id>`)
//! and pending transfers (id `transfer-<transfer id>`). Everything a command changes lives in one partition,
//! so one transactional batch commits it.

use serde_json::{Value, json};

use crate::contract::{answer_json, event_json};
use crate::domain::{Aggregate, CommandId, Event, PendingTransfer, StreamId, TransferId};
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
pub fn claim(command: CommandId, stream: &StreamId, request_hash: &str) -> Value {
    json!({"id": CLAIM_ID, "pk": claim_partition(command), "kind": "claim", "stream": stream.to_string(),
           "requestHash": request_hash})
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

pub fn marker(stream: &StreamId, outcome: &CommandOutcome) -> Value {
    json!({
        "id": marker_id(outcome.command_id),
        "pk": stream.to_string(),
        "kind": "marker",
        "requestHash": outcome.request_hash,
        "response": outcome.answer.as_ref().map(answer_json::encode).unwrap_or_default(),
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

/// Reads a marker document back; `None` if it is not one.
pub fn outcome_of(command: CommandId, doc: &Value) -> Option<CommandOutcome> {
    Some(CommandOutcome {
        command_id: command,
        request_hash: doc.get("requestHash")?.as_str()?.to_owned(),
        answer: Some(answer_json::decode(doc.get("response")?.as_str()?).ok()?),
    })
}
