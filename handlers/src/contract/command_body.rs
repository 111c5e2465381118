//! Parses a command body (`docs/API.md`, "Commands") into a domain `Command`, reporting every bad field at once.
//!
//! Hand-written over a serde derive on purpose: serde stops at the first error and words it for Rust
//! programmers; scanners need every problem, by field name, in one answer.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::FieldError;
use crate::domain::command::MAX_NOTE_LEN;
use crate::domain::ids::NAME_PATTERN;
use crate::domain::{Action, Amount, Command, CommandId, CommandMeta, ItemKey, LocationId, ProductName, Quantity};
use crate::domain::{RemovalReason, ScannerId, Sku, Timestamp, Version};

pub(crate) const COMMON_FIELDS: [&str; 6] = ["commandId", "type", "expectedVersion", "scannerId", "occurredAt", "note"];

/// The command types of `docs/API.md` and their own fields.
pub(crate) fn type_fields(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "receive" | "count" => &["location", "sku", "quantity"],
        "remove" => &["location", "sku", "quantity", "reason"],
        "transfer" => &["from", "to", "sku", "quantity"],
        "defineProduct" => &["sku", "name", "category", "reorderLevel"],
        _ => return None,
    })
}

/// A parsed command with the hash of what the client sent (for "same id, different body").
#[derive(Debug, Clone)]
pub struct ParsedCommand {
    pub command: Command,
    pub request_hash: String,
}

/// Parses one command. `path` prefixes field names (`commands[3].`) inside a batch.
pub fn parse(value: &Value, path: &str) -> Result<ParsedCommand, Vec<FieldError>> {
    let Some(object) = value.as_object() else {
        let field = path.trim_end_matches('.');
        return Err(vec![FieldError::new(if field.is_empty() { "$" } else { field }, "must be a JSON object")]);
    };
    let mut fields = Fields { object, path, errors: Vec::new() };
    let command = fields.command();
    match command {
        Some(command) if fields.errors.is_empty() => Ok(ParsedCommand { command, request_hash: request_hash(value) }),
        _ => Err(fields.errors),
    }
}

/// Only the `commandId` of a body, if it has a valid one (to label a rejected batch entry).
pub fn command_id_of(value: &Value) -> Option<CommandId> {
    value.get("commandId")?.as_str().and_then(|s| CommandId::parse(s).ok())
}

/// SHA-256 of the body in canonical form (keys sorted, no whitespace): the same command sent with
/// different key order or spacing is the same command.
fn request_hash(value: &Value) -> String {
    let mut canonical = Vec::with_capacity(256);
    write_canonical(value, &mut canonical);
    format!("{:x}", Sha256::digest(&canonical))
}

/// Sorts keys explicitly: serde_json keeps insertion order when any crate in the build enables `preserve_order`.
/// Strings and numbers are written by serde_json itself, straight into the buffer.
fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            // A null member means the same as an absent one (the parser treats them alike), so a retry
            // that adds or drops `"note": null` is the same command.
            let mut members: Vec<(&String, &Value)> = map.iter().filter(|(_, v)| !v.is_null()).collect();
            members.sort_unstable_by_key(|(key, _)| *key);
            out.push(b'{');
            for (i, (key, member)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_scalar(key, out);
                out.push(b':');
                write_canonical(member, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        // `3.0` is the integer 3 to the parser, so it is the same command as `3`.
        scalar => match integral_float(scalar) {
            Some(integer) => write_scalar(&integer, out),
            None => write_scalar(scalar, out),
        },
    }
}

fn write_scalar(scalar: &(impl serde::Serialize + ?Sized), out: &mut Vec<u8>) {
    // Infallible: a string, number or boolean written to a Vec.
    let _ = serde_json::to_writer(&mut *out, scalar);
}

struct Fields<'a> {
    object: &'a Map<String, Value>,
    path: &'a str,
    errors: Vec<FieldError>,
}

impl Fields<'_> {
    fn command(&mut self) -> Option<Command> {
        let id = self.required("commandId", |v| v.as_str().and_then(|s| CommandId::parse(s).ok()), "must be a UUID");
        let kind = self.required("type", |v| v.as_str().map(str::to_owned), "must be a string");
        let meta = self.meta();
        let kind = kind?;
        let Some(own) = type_fields(&kind) else {
            self.error("type", "must be one of receive, remove, count, transfer, defineProduct");
            return None;
        };
        self.reject_unknown(own);
        let action = self.action(&kind);
        Some(Command { id: id?, action: action?, meta })
    }

    fn action(&mut self, kind: &str) -> Option<Action> {
        match kind {
            "receive" => {
                let item = self.item();
                let quantity = self.amount("quantity");
                Some(Action::Receive { item: item?, quantity: quantity? })
            }
            "remove" => {
                let item = self.item();
                let quantity = self.amount("quantity");
                let reason = self.required(
                    "reason",
                    |v| v.as_str().and_then(RemovalReason::parse),
                    "must be one of sold, wasted, damaged, expired, returned, other",
                );
                Some(Action::Remove { item: item?, quantity: quantity?, reason: reason? })
            }
            "count" => {
                let item = self.item();
                let quantity = self.required("quantity", as_quantity, "must be an integer from 0 to 1000000");
                Some(Action::Count { item: item?, quantity: quantity? })
            }
            "transfer" => {
                let from = self.name("from", LocationId::parse);
                let to = self.name("to", LocationId::parse);
                let sku = self.name("sku", Sku::parse);
                let quantity = self.amount("quantity");
                if from.is_some() && from == to {
                    self.error("to", "must differ from 'from'");
                    return None;
                }
                Some(Action::Transfer { from: from?, to: to?, sku: sku?, quantity: quantity? })
            }
            _ => self.define_product(),
        }
    }

    fn define_product(&mut self) -> Option<Action> {
        let sku = self.name("sku", Sku::parse);
        let name = self.required(
            "name",
            |v| v.as_str().and_then(|s| ProductName::parse(s).ok()),
            "must be 1 to 120 characters without control characters",
        );
        let category = self.optional(
            "category",
            |v| v.as_str().filter(|s| (1..=64).contains(&s.chars().count())).map(str::to_owned),
            "must be 1 to 64 characters",
        );
        let reorder_level = self.optional("reorderLevel", as_quantity, "must be an integer from 0 to 1000000");
        Some(Action::DefineProduct { sku: sku?, name: name?, category: category?, reorder_level: reorder_level? })
    }

    fn meta(&mut self) -> CommandMeta {
        let expected_version =
            self.optional("expectedVersion", |v| as_integer(v).map(Version), "must be a non-negative integer");
        let scanner_id = self.optional(
            "scannerId",
            |v| v.as_str().and_then(|s| ScannerId::parse(s).ok()),
            "must be 1 to 64 characters",
        );
        let occurred_at = self.optional(
            "occurredAt",
            |v| v.as_str().and_then(|s| Timestamp::parse(s).ok()),
            "must be an RFC 3339 date-time, e.g. 2026-01-15T10:30:00Z",
        );
        let note = self.optional(
            "note",
            |v| v.as_str().filter(|s| s.chars().count() <= MAX_NOTE_LEN).map(str::to_owned),
            "must be a string of at most 500 characters",
        );
        CommandMeta {
            // Set by the transport, never by the body (a body `caller` is an unknown field).
            trace: None,
            caller: None,
            expected_version: expected_version.flatten(),
            scanner_id: scanner_id.flatten(),
            occurred_at: occurred_at.flatten(),
            note: note.flatten(),
        }
    }

    fn item(&mut self) -> Option<ItemKey> {
        let location = self.name("location", LocationId::parse);
        let sku = self.name("sku", Sku::parse);
        Some(ItemKey { location: location?, sku: sku? })
    }

    fn amount(&mut self, field: &str) -> Option<Amount> {
        self.required(
            field,
            |v| as_integer(v).and_then(|n| u32::try_from(n).ok()).and_then(|n| Amount::new(n).ok()),
            "must be an integer from 1 to 1000000",
        )
    }

    fn name<T, E>(&mut self, field: &str, parse: fn(&str) -> Result<T, E>) -> Option<T> {
        self.required(field, |v| v.as_str().and_then(|s| parse(s).ok()), &format!("must match {NAME_PATTERN}"))
    }

    fn required<T>(&mut self, field: &str, parse: impl FnOnce(&Value) -> Option<T>, message: &str) -> Option<T> {
        match self.object.get(field) {
            None | Some(Value::Null) => {
                self.error(field, "is required");
                None
            }
            Some(v) => {
                let parsed = parse(v);
                if parsed.is_none() {
                    self.error(field, message);
                }
                parsed
            }
        }
    }

    /// `Some(None)`: absent or null; `Some(Some(v))`: valid; `None`: invalid (error recorded).
    fn optional<T>(
        &mut self,
        field: &str,
        parse: impl FnOnce(&Value) -> Option<T>,
        message: &str,
    ) -> Option<Option<T>> {
        match self.object.get(field) {
            None | Some(Value::Null) => Some(None),
            Some(_) => self.required(field, parse, message).map(Some),
        }
    }

    fn reject_unknown(&mut self, own: &[&str]) {
        let unknown: Vec<String> = self
            .object
            .keys()
            .filter(|k| !COMMON_FIELDS.contains(&k.as_str()) && !own.contains(&k.as_str()))
            .cloned()
            .collect();
        for key in unknown {
            self.error(&key, "is not a field of this command type");
        }
    }

    fn error(&mut self, field: &str, message: &str) {
        self.errors.push(FieldError::new(format!("{}{field}", self.path), message));
    }
}

/// Largest integer a JSON number written with a fraction still holds exactly (2^53).
const EXACT_FLOAT_LIMIT: f64 = 9_007_199_254_740_992.0;

/// A non-negative JSON integer, also when written with a zero fraction (`3.0`): JSON Schema's `integer`, and so
/// every generated client and validator, counts it as one.
fn as_integer(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| integral_float(v))
}

fn integral_float(v: &Value) -> Option<u64> {
    let f = v.as_f64().filter(|_| v.is_f64())?;
    (f.fract() == 0.0 && (0.0..=EXACT_FLOAT_LIMIT).contains(&f)).then_some(f as u64)
}

fn as_quantity(v: &Value) -> Option<Quantity> {
    as_integer(v).and_then(|n| u32::try_from(n).ok()).and_then(|n| Quantity::new(n).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "6f1b3c9e-3f4a-4a53-9a6e-0b7f1f0c2d11";

    #[test]
    fn a_valid_receive_parses() {
        let body =
            json!({"commandId": ID, "type": "receive", "location": "store-1", "sku": "apple-pie", "quantity": 3});
        let parsed = parse(&body, "").unwrap();
        assert!(matches!(parsed.command.action, Action::Receive { .. }));
    }

    #[test]
    fn every_bad_field_is_reported_by_name() {
        let body = json!({"commandId": "nope", "type": "remove", "location": "Store 1", "sku": "pie", "quantity": 0,
                          "reason": "eaten", "colour": "red"});
        let fields: Vec<String> = parse(&body, "").unwrap_err().into_iter().map(|e| e.field).collect();
        for f in ["commandId", "location", "quantity", "reason", "colour"] {
            assert!(fields.contains(&f.to_string()), "{f} missing from {fields:?}");
        }
    }

    #[test]
    fn fractional_and_huge_quantities_are_refused() {
        for q in [json!(1.5), json!(1_000_001), json!(-1), json!("3")] {
            let body = json!({"commandId": ID, "type": "receive", "location": "a", "sku": "b", "quantity": q});
            assert!(parse(&body, "").is_err(), "{q} accepted");
        }
    }

    #[test]
    fn an_integer_written_with_a_zero_fraction_is_that_integer() {
        let plain = json!({"commandId": ID, "type": "receive", "location": "a", "sku": "b", "quantity": 3});
        let spelled = json!({"commandId": ID, "type": "receive", "location": "a", "sku": "b", "quantity": 3.0,
                             "expectedVersion": 2.0});
        let parsed = parse(&spelled, "").unwrap();
        assert_eq!(parsed.command.meta.expected_version, Some(Version(2)));
        let mut with_version = plain.clone();
        with_version["expectedVersion"] = json!(2);
        assert_eq!(parse(&with_version, "").unwrap().request_hash, parsed.request_hash);
    }

    #[test]
    fn key_order_does_not_change_the_hash() {
        let a: Value = serde_json::from_str(r#"{"commandId":"6f1b3c9e-3f4a-4a53-9a6e-0b7f1f0c2d11","type":"count","location":"a","sku":"b","quantity":0}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"quantity":0,"sku":"b","location":"a","type":"count","commandId":"6f1b3c9e-3f4a-4a53-9a6e-0b7f1f0c2d11"}"#).unwrap();
        assert_eq!(parse(&a, "").unwrap().request_hash, parse(&b, "").unwrap().request_hash);
    }

    /// Stored markers keep the hash of their command's body: the canonical form must never change, or a retry
    /// after an upgrade would be refused as a reused id. (The expected value is SHA-256 of the body with sorted
    /// keys and no spaces, as Python's `json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)`.)
    #[test]
    fn the_request_hash_is_stable() {
        let body = json!({"commandId": ID, "type": "receive", "location": "store-1", "sku": "apple-pie", "quantity": 3,
                          "note": "fresh \"batch\" – ok"});
        assert_eq!(
            parse(&body, "").unwrap().request_hash,
            "1e4689d78473b7f23617e6f89ea4490c6dc09f00581111d093d9c5670706337a"
        );
    }

    #[test]
    fn a_null_member_hashes_like_an_absent_one() {
        let plain = json!({"commandId": ID, "type": "count", "location": "a", "sku": "b", "quantity": 0});
        let mut with_null = plain.clone();
        with_null["note"] = Value::Null;
        assert_eq!(parse(&plain, "").unwrap().request_hash, parse(&with_null, "").unwrap().request_hash);
    }

    #[test]
    fn a_transfer_to_the_same_place_is_refused() {
        let body = json!({"commandId": ID, "type": "transfer", "from": "a", "to": "a", "sku": "b", "quantity": 1});
        assert_eq!(parse(&body, "").unwrap_err()[0].field, "to");
    }
}
