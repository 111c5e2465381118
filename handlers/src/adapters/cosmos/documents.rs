//! The documents of one logical partition (partition key `/pk` = the stream, e.g. `store-1/apple-pie`):
//! the stream's state (id `state`), its events (id = event id), command markers (id `marker-<command id>`)
//! pending transfers (id `transfer-<transfer id>`) and its ledger's movements (id `movement-<command id>`).
//! Two kinds of partition are not streams: a command id's claim (`claim:<command id>`) and a barcode's claim
//! (`barcode:<14 digits>`).
//! Everything a command changes lives in one partition, so one transactional batch commits it. Markers and
//! claims carry a `ttl` (the idempotency window): the container's default TTL is -1 (on, nothing expires unless
//! it says so), so only they expire.

use serde_json::{Value, json};

use crate::contract::{answer_json, event_json};
use crate::domain::Version;
use crate::domain::{Aggregate, CommandId, Event, Gtin, Mark, Movement, PendingTransfer, Sku, StreamId, TransferId};
use crate::ports::write_store::CommandOutcome;

pub const STATE_ID: &str = "state";
pub const CLAIM_ID: &str = "claim";
pub const BARCODE_ID: &str = "barcode";

/// The partition of a barcode's claim: one per barcode (its 14-digit GS1 form), never a stream's or a command's.
pub fn barcode_partition(barcode: &Gtin) -> String {
    format!("barcode:{}", barcode.key())
}

/// A barcode's claim: the sku that has it, and the version of that product's definition that claimed it
/// (`barcodes.rs` says when a claim is live). Kept for good: no `ttl`.
pub fn barcode_claim(barcode: &Gtin, sku: &Sku, version: Version) -> Value {
    json!({"id": BARCODE_ID, "pk": barcode_partition(barcode), "kind": "barcode", "sku": sku, "version": version})
}

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
        "response": outcome.answer.as_ref().map(answer_json::encode).unwrap_or_default(),
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

/// Reads a marker document back; `None` if it is not one.
pub fn outcome_of(command: CommandId, doc: &Value) -> Option<CommandOutcome> {
    Some(CommandOutcome {
        command_id: command,
        request_hash: doc.get("requestHash")?.as_str()?.to_owned(),
        answer: Some(answer_json::decode(doc.get("response")?.as_str()?).ok()?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Action, Amount, Command, CommandMeta, ItemKey, ItemState, LocationId, Sku, Timestamp};

    /// The state document stays the same size however many movements the item has (they are documents of their
    /// own): its serialized size after 100,000 uncounted receipts is printed for docs/PERFORMANCE.md.
    #[test]
    fn the_state_document_does_not_grow_with_the_ledger() {
        let key = ItemKey { location: LocationId::parse("store-1").unwrap(), sku: Sku::parse("apple-pie").unwrap() };
        let start = Timestamp::parse("2026-03-02T08:00:00Z").unwrap();
        let mut item = ItemState::empty(key.clone());
        let mut sizes = Vec::new();
        for i in 0..100_000u64 {
            let meta =
                CommandMeta { occurred_at: Some(start.plus(std::time::Duration::from_secs(i))), ..Default::default() };
            let action = Action::Receive { item: key.clone(), quantity: Amount::new(1).unwrap() };
            let command = Command { id: CommandId(uuid::Uuid::new_v4()), action, meta };
            item = item.decide(&command, Timestamp::now(), None).unwrap().0;
            if i == 0 || i == 99_999 {
                let doc = state(&StreamId::Item(key.clone()), &Aggregate::Item(item.clone()));
                sizes.push(serde_json::to_string(&doc).unwrap().len());
            }
        }
        println!("state document: {} B after 1 movement, {} B after 100,000", sizes[0], sizes[1]);
        // Only its numbers grow: on-hand and the version (written twice) from 1 to 100,000 digits, 5 more each.
        assert!(sizes[1] <= sizes[0] + 15, "grew from {} to {} B", sizes[0], sizes[1]);
    }

    #[test]
    fn markers_and_claims_expire_after_the_window() {
        let command = CommandId(uuid::Uuid::new_v4());
        let stream = StreamId::Item(ItemKey {
            location: LocationId::parse("store-1").unwrap(),
            sku: Sku::parse("apple-pie").unwrap(),
        });
        let outcome = CommandOutcome { command_id: command, request_hash: "h".into(), answer: None };
        assert_eq!(marker(&stream, &outcome, 2_592_000)["ttl"], 2_592_000);
        assert_eq!(claim(command, &stream, "h", 2_592_000)["ttl"], 2_592_000);
        let event = movement(&stream, &Movement(Timestamp::now(), command, 1));
        assert!(event.get("ttl").is_none(), "movements are kept: the history needs them");
    }
}
