//! Events on the wire (`API.md`, "Events"): CloudEvents 1.0 out, and CloudEvents or Event Grid schema in.
//!
//! Encoding and decoding live side by side so that a round trip is lossless; the stores keep events in the
//! same CloudEvents form, so there is one format for events everywhere.

use serde_json::{Map, Value, json};

use crate::domain::{CommandId, Event, EventId, EventKind, ItemKey, LocationId, ProductEvent, ProductName, Quantity};
use crate::domain::{RemovalReason, ScannerId, Sku, StockEvent, StreamId, Timestamp, TransferId, TransferLeg, Version};

/// CloudEvents `source` of every pieshop event.
pub const SOURCE: &str = "/pieshop/inventory";

/// Which envelope an event is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    CloudEvents,
    EventGrid,
}

/// Why an event could not be read. Retrying cannot fix any of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("not an event object (neither CloudEvents nor Event Grid schema)")]
    NotAnEvent,
    #[error("unknown event type {0:?}")]
    UnknownType(String),
    #[error("field {field}: {message}")]
    BadField { field: &'static str, message: &'static str },
}

/// The event as a CloudEvents 1.0 JSON object.
pub fn to_cloud_event(event: &Event) -> Value {
    json!({
        "specversion": "1.0",
        "id": event.id().to_string(),
        "source": SOURCE,
        "subject": event.stream().to_string(),
        "type": event.kind().type_name(),
        "time": event.recorded_at().to_string(),
        "datacontenttype": "application/json",
        "data": data(event),
    })
}

/// The event as an Event Grid schema JSON object (no `topic`/`metadataVersion`: Event Grid fills them).
pub fn to_event_grid(event: &Event) -> Value {
    json!({
        "id": event.id().to_string(),
        "subject": event.stream().to_string(),
        "eventType": event.kind().type_name(),
        "eventTime": event.recorded_at().to_string(),
        "data": data(event),
        "dataVersion": "1",
    })
}

/// Encodes in the chosen schema.
pub fn encode(event: &Event, schema: Schema) -> Value {
    match schema {
        Schema::CloudEvents => to_cloud_event(event),
        Schema::EventGrid => to_event_grid(event),
    }
}

/// The `data` member; optional members are left out rather than sent as `null`.
fn data(event: &Event) -> Value {
    let mut data = Map::new();
    match event {
        Event::Stock(e) => {
            data.insert("location".into(), json!(e.item.location));
            data.insert("sku".into(), json!(e.item.sku));
            data.insert("delta".into(), json!(e.delta));
            data.insert("quantity".into(), json!(e.quantity));
            data.insert("version".into(), json!(e.version));
            data.insert("commandId".into(), json!(e.command_id.to_string()));
            insert_some(&mut data, "scannerId", e.scanner_id.as_ref().map(|s| json!(s.as_str())));
            insert_some(&mut data, "occurredAt", e.occurred_at.map(|t| json!(t.to_string())));
            data.insert("recordedAt".into(), json!(e.recorded_at.to_string()));
            insert_some(&mut data, "reason", e.reason.map(|r| json!(r.as_str())));
            insert_some(&mut data, "note", e.note.as_ref().map(|n| json!(n)));
            if let Some(leg) = &e.transfer {
                data.insert("transferId".into(), json!(leg.transfer_id.to_string()));
                data.insert("from".into(), json!(leg.from));
                data.insert("to".into(), json!(leg.to));
            }
        }
        Event::Product(e) => {
            data.insert("sku".into(), json!(e.sku));
            data.insert("name".into(), json!(e.name.as_str()));
            insert_some(&mut data, "category", e.category.as_ref().map(|c| json!(c)));
            insert_some(&mut data, "reorderLevel", e.reorder_level.map(|r| json!(r)));
            data.insert("version".into(), json!(e.version));
            data.insert("commandId".into(), json!(e.command_id.to_string()));
            data.insert("recordedAt".into(), json!(e.recorded_at.to_string()));
        }
    }
    Value::Object(data)
}

fn insert_some(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(v) = value {
        map.insert(key.into(), v);
    }
}

/// Reads an event in either schema. Accepts the object itself, or a JSON string containing it, or a
/// string of a string (what the Functions host sends for an Event Grid trigger: see the protocol notes).
pub fn decode(value: &Value) -> Result<Event, DecodeError> {
    let object = unwrap_strings(value)?;
    let object = object.as_object().ok_or(DecodeError::NotAnEvent)?;
    let (type_name, id, data) = if object.contains_key("specversion") {
        (object.get("type"), object.get("id"), object.get("data"))
    } else if object.contains_key("eventType") {
        (object.get("eventType"), object.get("id"), object.get("data"))
    } else {
        return Err(DecodeError::NotAnEvent);
    };
    let type_name = type_name.and_then(Value::as_str).ok_or(DecodeError::BadField { field: "type", message: "missing" })?;
    let kind = EventKind::from_type_name(type_name).ok_or_else(|| DecodeError::UnknownType(type_name.to_owned()))?;
    let id = id
        .and_then(Value::as_str)
        .and_then(|s| EventId::parse(s).ok())
        .ok_or(DecodeError::BadField { field: "id", message: "must be a UUID" })?;
    let data = data.and_then(Value::as_object).ok_or(DecodeError::BadField { field: "data", message: "must be an object" })?;
    let event = if kind == EventKind::ProductDefined { product(id, data)? } else { stock(id, kind, data)? };
    check_subject(object, &event)?;
    Ok(event)
}

/// Peels up to two layers of JSON-in-a-string.
fn unwrap_strings(value: &Value) -> Result<Value, DecodeError> {
    let mut current = value.clone();
    for _ in 0..3 {
        match current {
            Value::String(text) => {
                current = serde_json::from_str(&text).map_err(|e| DecodeError::NotJson(e.to_string()))?;
            }
            other => return Ok(other),
        }
    }
    Err(DecodeError::NotAnEvent)
}

/// The subject, when present, must name the same stream as the data (a mismatch means a forged or broken event).
fn check_subject(object: &Map<String, Value>, event: &Event) -> Result<(), DecodeError> {
    match object.get("subject").and_then(Value::as_str) {
        Some(subject) if subject != event.stream().to_string() => {
            Err(DecodeError::BadField { field: "subject", message: "does not match data.location/data.sku" })
        }
        _ => Ok(()),
    }
}

fn stock(id: EventId, kind: EventKind, data: &Map<String, Value>) -> Result<Event, DecodeError> {
    let location = field(data, "location", |v| v.as_str().and_then(|s| LocationId::parse(s).ok()))?;
    let sku = field(data, "sku", |v| v.as_str().and_then(|s| Sku::parse(s).ok()))?;
    let transfer = match kind {
        EventKind::TransferredOut | EventKind::TransferredIn => Some(TransferLeg {
            transfer_id: field(data, "transferId", |v| v.as_str().and_then(|s| TransferId::parse(s).ok()))?,
            from: field(data, "from", |v| v.as_str().and_then(|s| LocationId::parse(s).ok()))?,
            to: field(data, "to", |v| v.as_str().and_then(|s| LocationId::parse(s).ok()))?,
        }),
        _ => None,
    };
    Ok(Event::Stock(StockEvent {
        id,
        kind,
        item: ItemKey { location, sku },
        delta: field(data, "delta", Value::as_i64)?,
        quantity: field(data, "quantity", as_quantity)?,
        version: field(data, "version", as_version)?,
        command_id: field(data, "commandId", |v| v.as_str().and_then(|s| CommandId::parse(s).ok()))?,
        scanner_id: optional(data, "scannerId", |v| v.as_str().and_then(|s| ScannerId::parse(s).ok()))?,
        occurred_at: optional(data, "occurredAt", as_timestamp)?,
        recorded_at: field(data, "recordedAt", as_timestamp)?,
        reason: optional(data, "reason", |v| v.as_str().and_then(RemovalReason::parse))?,
        transfer,
        note: optional(data, "note", |v| v.as_str().map(str::to_owned))?,
    }))
}

fn product(id: EventId, data: &Map<String, Value>) -> Result<Event, DecodeError> {
    Ok(Event::Product(ProductEvent {
        id,
        sku: field(data, "sku", |v| v.as_str().and_then(|s| Sku::parse(s).ok()))?,
        name: field(data, "name", |v| v.as_str().and_then(|s| ProductName::parse(s).ok()))?,
        category: optional(data, "category", |v| v.as_str().map(str::to_owned))?,
        reorder_level: optional(data, "reorderLevel", as_quantity)?,
        version: field(data, "version", as_version)?,
        command_id: field(data, "commandId", |v| v.as_str().and_then(|s| CommandId::parse(s).ok()))?,
        recorded_at: field(data, "recordedAt", as_timestamp)?,
    }))
}

fn as_quantity(v: &Value) -> Option<Quantity> {
    v.as_u64().and_then(|n| u32::try_from(n).ok()).and_then(|n| Quantity::new(n).ok())
}

fn as_version(v: &Value) -> Option<Version> {
    v.as_u64().filter(|n| *n >= 1).map(Version)
}

fn as_timestamp(v: &Value) -> Option<Timestamp> {
    v.as_str().and_then(|s| Timestamp::parse(s).ok())
}

fn field<T>(data: &Map<String, Value>, name: &'static str, parse: impl Fn(&Value) -> Option<T>) -> Result<T, DecodeError> {
    data.get(name).and_then(parse).ok_or(DecodeError::BadField { field: name, message: "missing or invalid" })
}

fn optional<T>(
    data: &Map<String, Value>,
    name: &'static str,
    parse: impl Fn(&Value) -> Option<T>,
) -> Result<Option<T>, DecodeError> {
    match data.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => parse(v).map(Some).ok_or(DecodeError::BadField { field: name, message: "invalid" }),
    }
}

/// The stream an encoded event belongs to, read from its subject (used by stores that index by stream).
pub fn subject_stream(value: &Value) -> Option<StreamId> {
    value.get("subject").and_then(Value::as_str).and_then(|s| StreamId::parse(s).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Amount, Command, CommandMeta, ItemState};

    fn sample() -> Event {
        let key = ItemKey { location: LocationId::parse("store-1").unwrap(), sku: Sku::parse("apple-pie").unwrap() };
        let command = Command {
            id: CommandId(uuid::Uuid::new_v4()),
            action: crate::domain::Action::Receive { item: key.clone(), quantity: Amount::new(4).unwrap() },
            meta: CommandMeta { scanner_id: Some(ScannerId::parse("scanner-7").unwrap()), ..Default::default() },
        };
        Event::Stock(ItemState::empty(key).decide(&command, Timestamp::now()).unwrap().1)
    }

    #[test]
    fn both_schemas_round_trip() {
        let event = sample();
        assert_eq!(decode(&to_cloud_event(&event)).unwrap(), event);
        assert_eq!(decode(&to_event_grid(&event)).unwrap(), event);
    }

    #[test]
    fn strings_of_json_and_strings_of_strings_decode() {
        let event = sample();
        let once = Value::String(serde_json::to_string_pretty(&to_cloud_event(&event)).unwrap());
        let twice = Value::String(serde_json::to_string(&once).unwrap());
        assert_eq!(decode(&once).unwrap(), event);
        assert_eq!(decode(&twice).unwrap(), event);
    }

    #[test]
    fn absent_optionals_are_not_sent_as_null() {
        let text = to_cloud_event(&sample()).to_string();
        assert!(!text.contains("null"), "{text}");
    }

    #[test]
    fn a_foreign_event_is_refused_not_misread() {
        let foreign = serde_json::json!({"specversion": "1.0", "type": "Contoso.Orders.OrderPlaced", "id": "x", "data": {}});
        assert!(matches!(decode(&foreign), Err(DecodeError::UnknownType(_))));
    }
}
