//! Event Grid's dead-letter blobs on the wire (`docs/protocol/push-deadletter-auth.md` §B): a JSON array of one or
//! more events, each the original event plus the dead-letter properties: camelCase top-level members in the
//! Event Grid schema (`deadLetterReason`, `deliveryAttempts`, `lastDeliveryOutcome`, `publishTime`,
//! `lastDeliveryAttemptTime`), lower-case extension attributes in CloudEvents (`deadletterreason`, ...).
//!
//! Parsed tolerantly, because the documentation itself is sloppy and the batching is undocumented: either
//! spelling in either schema, numbers as numbers or strings, unknown members kept, a single object taken as an
//! array of one, a byte-order mark and trailing commas (the doc's CloudEvents sample has one) forgiven. The event
//! itself is left as it is: `event_json::decode` reads it and ignores the extra members.

use serde::Serialize;
use serde_json::{Map, Value};

/// What Event Grid added to an event when it gave up delivering it. Every member is optional: the doc and the
/// field disagree on which appear.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetterProperties {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_attempts: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_delivery_outcome: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publish_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_delivery_attempt_time: Option<String>,
    /// Seen in the field, not documented (azure-sdk-for-net #26198).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_http_status_code: Option<u64>,
}

/// One dead-lettered event: the event as it was published (with the dead-letter members still in it), and
/// those members read out.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLettered {
    pub event: Value,
    pub properties: DeadLetterProperties,
}

/// Why a blob could not be read at all (as opposed to one event in it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("not an array of events")]
    NotAnArray,
}

/// Reads one dead-letter blob into its events, in the order they were written.
pub fn parse_blob(bytes: &[u8]) -> Result<Vec<DeadLettered>, BlobError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(value) => value,
        Err(strict) => {
            let text = std::str::from_utf8(bytes).map_err(|e| BlobError::NotJson(e.to_string()))?;
            serde_json::from_str(&without_trailing_commas(text)).map_err(|_| BlobError::NotJson(strict.to_string()))?
        }
    };
    let events = match value {
        Value::Array(events) => events,
        object @ Value::Object(_) => vec![object],
        _ => return Err(BlobError::NotAnArray),
    };
    Ok(events.into_iter().map(|event| DeadLettered { properties: properties(&event), event }).collect())
}

/// The dead-letter members of one event, whichever spelling it uses; anything else in it is ignored here.
pub fn properties(event: &Value) -> DeadLetterProperties {
    let Some(object) = event.as_object() else {
        return DeadLetterProperties::default();
    };
    DeadLetterProperties {
        dead_letter_reason: text(object, "deadletterreason"),
        delivery_attempts: number(object, "deliveryattempts"),
        last_delivery_outcome: text(object, "lastdeliveryoutcome"),
        publish_time: text(object, "publishtime"),
        last_delivery_attempt_time: text(object, "lastdeliveryattempttime"),
        last_http_status_code: number(object, "lasthttpstatuscode"),
    }
}

/// The member whose name is `lower` in any case (`deadLetterReason` and `deadletterreason` alike).
fn member<'a>(object: &'a Map<String, Value>, lower: &str) -> Option<&'a Value> {
    object.iter().find(|(name, _)| name.eq_ignore_ascii_case(lower)).map(|(_, value)| value)
}

fn text(object: &Map<String, Value>, lower: &str) -> Option<String> {
    match member(object, lower)? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn number(object: &Map<String, Value>, lower: &str) -> Option<u64> {
    match member(object, lower)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The text with every comma that directly precedes a closing `}` or `]` (outside strings) removed.
fn without_trailing_commas(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for (i, &c) in chars.iter().enumerate() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if c == ',' && chars[i + 1..].iter().find(|c| !c.is_whitespace()).is_some_and(|c| matches!(c, '}' | ']'))
        {
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn event_grid_schema_members_are_read_in_camel_case() {
        let blob = json!([{"id": "1", "eventType": "pieshop.Received", "deadLetterReason": "MaxDeliveryAttemptsExceeded",
            "deliveryAttempts": 30, "lastDeliveryOutcome": "TimedOut", "publishTime": "2026-11-29T10:00:00Z",
            "lastDeliveryAttemptTime": "2026-11-30T10:00:00Z", "lastHttpStatusCode": 503}]);
        let events = parse_blob(blob.to_string().as_bytes()).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(
            events[0].properties,
            DeadLetterProperties {
                dead_letter_reason: Some("MaxDeliveryAttemptsExceeded".into()),
                delivery_attempts: Some(30),
                last_delivery_outcome: Some("TimedOut".into()),
                publish_time: Some("2026-11-29T10:00:00Z".into()),
                last_delivery_attempt_time: Some("2026-11-30T10:00:00Z".into()),
                last_http_status_code: Some(503),
            }
        );
        assert_eq!(events[0].event, blob[0], "the event is kept whole");
    }

    #[test]
    fn cloud_events_extension_attributes_are_read_in_lower_case_with_numbers_as_strings() {
        let blob = r#"[{"specversion": "1.0", "id": "1", "type": "pieshop.Received",
            "deadletterreason": "UndeliverableDueToHttpBadRequest", "deliveryattempts": "1",
            "lastdeliveryoutcome": "BadRequest", "publishtime": "2026-11-29T10:00:00Z", "futureattribute": {"x": 1}}]"#;
        let events = parse_blob(blob.as_bytes()).unwrap();
        let p = &events[0].properties;
        assert_eq!(p.dead_letter_reason.as_deref(), Some("UndeliverableDueToHttpBadRequest"));
        assert_eq!(p.delivery_attempts, Some(1));
        assert_eq!(p.last_delivery_outcome.as_deref(), Some("BadRequest"));
        assert_eq!(p.last_delivery_attempt_time, None, "the CloudEvents sample has none");
    }

    #[test]
    fn the_docs_sloppy_trailing_comma_and_a_byte_order_mark_are_forgiven() {
        let blob = "\u{FEFF}[{\"specversion\": \"1.0\", \"id\": \"a\\\",}\", \"deadletterreason\": \"x\",\n}\n,]";
        let events = parse_blob(blob.as_bytes()).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event["id"], "a\",}", "a comma inside a string (after an escaped quote) stays");
    }

    #[test]
    fn a_single_object_is_an_array_of_one_and_many_events_keep_their_order() {
        assert_eq!(parse_blob(br#"{"id": "only"}"#).unwrap().len(), 1);
        let many: Vec<Value> = (0..10).map(|i| json!({"id": i.to_string()})).collect();
        let events = parse_blob(Value::Array(many).to_string().as_bytes()).unwrap();
        let ids: Vec<&str> = events.iter().map(|e| e.event["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    }

    #[test]
    fn what_is_not_a_blob_of_events_is_refused() {
        assert!(matches!(parse_blob(b"not json"), Err(BlobError::NotJson(_))));
        assert!(matches!(parse_blob(b"42"), Err(BlobError::NotAnArray)));
        assert!(matches!(parse_blob(b"\xff\xfe"), Err(BlobError::NotJson(_))));
    }
}
