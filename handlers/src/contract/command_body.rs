//! Parses a command body (`docs/API.md`, "Commands") into a domain `Command`, reporting every bad field at once.
//!
//! Hand-written over a serde derive on purpose: serde stops at the first error and words it for Rust
//! programmers; scanners need every problem, by field name, in one answer.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::FieldError;
use crate::domain::barcode::MAX_BARCODES;
use crate::domain::command::MAX_NOTE_LEN;
use crate::domain::ids::NAME_PATTERN;
use crate::domain::{Action, Amount, Command, CommandId, CommandMeta, ItemKey, LocationId, ProductName, Quantity};
use crate::domain::{
    Caller, Gtin, LocationKind, LocationName, RemovalReason, ScannerId, Sku, Timestamp, TraceParent, Version,
};

pub(crate) const COMMON_FIELDS: [&str; 6] = ["commandId", "type", "expectedVersion", "scannerId", "occurredAt", "note"];

/// The command types of `docs/API.md` and their own fields.
pub(crate) fn type_fields(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "receive" | "count" => &["location", "sku", "barcode", "quantity"],
        "remove" => &["location", "sku", "barcode", "quantity", "reason"],
        "transfer" => &["from", "to", "sku", "barcode", "quantity"],
        "defineProduct" => &["sku", "name", "category", "reorderLevel", "barcodes"],
        "defineLocation" => &["location", "name", "kind"],
        "retireLocation" => &["location"],
        _ => return None,
    })
}

/// A parsed command with the hash of what the client sent (for "same id, different body").
#[derive(Debug, Clone)]
pub struct ParsedCommand {
    pub id: CommandId,
    pub target: Target,
    /// Of the body as sent: a retry of a command sent with a `barcode` is the same command, whichever sku the
    /// barcode names by then.
    pub request_hash: String,
    /// The trace the command was made in (set by the transport, never by the client's body).
    pub trace: Option<TraceParent>,
    /// Who sent it, as the transport verified it (never from the body).
    pub caller: Option<Caller>,
}

/// What a parsed command names its product by.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// Its sku: the command is ready to decide (boxed: a command is far larger than a barcode and its body).
    Ready(Box<Command>),
    /// A barcode instead (`docs/API.md` 1.2, "Barcodes"), which the write side resolves to a sku first. `body`
    /// is the valid body as sent; `with_sku` parses it again with the sku in the barcode's place, so each rule of
    /// a command is written once, in this parser.
    ByBarcode { barcode: Gtin, body: Map<String, Value> },
}

impl ParsedCommand {
    /// The barcode the command names its product by, if it does.
    pub fn barcode(&self) -> Option<&Gtin> {
        match &self.target {
            Target::Ready(_) => None,
            Target::ByBarcode { barcode, .. } => Some(barcode),
        }
    }

    /// The command to decide: as sent, or, for one sent with a barcode, naming `sku` (what the barcode
    /// resolved to) in its place; `sku` is ignored for a command that named its own.
    pub fn command(&self, sku: Option<&Sku>) -> Result<Command, Vec<FieldError>> {
        let mut command = match (&self.target, sku) {
            (Target::Ready(command), _) => (**command).clone(),
            (Target::ByBarcode { body, .. }, Some(sku)) => {
                let mut body = body.clone();
                body.remove("barcode");
                body.insert("sku".into(), Value::String(sku.to_string()));
                match parse(&Value::Object(body), "")?.target {
                    Target::Ready(command) => *command,
                    Target::ByBarcode { .. } => return Err(vec![FieldError::new("barcode", "names no sku")]),
                }
            }
            (Target::ByBarcode { .. }, None) => return Err(vec![FieldError::new("barcode", "names no sku")]),
        };
        command.meta.trace = self.trace.clone();
        command.meta.caller = self.caller.clone();
        Ok(command)
    }
}

/// Parses one command. `path` prefixes field names (`commands[3].`) inside a batch.
pub fn parse(value: &Value, path: &str) -> Result<ParsedCommand, Vec<FieldError>> {
    let Some(object) = value.as_object() else {
        let field = path.trim_end_matches('.');
        return Err(vec![FieldError::new(if field.is_empty() { "$" } else { field }, "must be a JSON object")]);
    };
    let mut fields = Fields { object, path, errors: Vec::new(), barcode: None };
    let command = fields.command();
    match (command, fields.barcode) {
        (Some(command), None) if fields.errors.is_empty() => Ok(ParsedCommand {
            id: command.id,
            target: Target::Ready(Box::new(command)),
            request_hash: request_hash(value),
            trace: None,
            caller: None,
        }),
        (Some(command), Some(barcode)) if fields.errors.is_empty() => Ok(ParsedCommand {
            id: command.id,
            target: Target::ByBarcode { barcode, body: object.clone() },
            request_hash: request_hash(value),
            trace: None,
            caller: None,
        }),
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
    /// The barcode a stock command gave instead of its sku.
    barcode: Option<Gtin>,
}

impl Fields<'_> {
    fn command(&mut self) -> Option<Command> {
        let id = self.required("commandId", |v| v.as_str().and_then(|s| CommandId::parse(s).ok()), "must be a UUID");
        let kind = self.required("type", |v| v.as_str().map(str::to_owned), "must be a string");
        let meta = self.meta();
        let kind = kind?;
        let Some(own) = type_fields(&kind) else {
            self.error(
                "type",
                "must be one of receive, remove, count, transfer, defineProduct, defineLocation, retireLocation",
            );
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
                let sku = self.product();
                let quantity = self.amount("quantity");
                if from.is_some() && from == to {
                    self.error("to", "must differ from 'from'");
                    return None;
                }
                Some(Action::Transfer { from: from?, to: to?, sku: sku?, quantity: quantity? })
            }
            "defineLocation" => {
                let location = self.name("location", LocationId::parse);
                let name = self.required(
                    "name",
                    |v| v.as_str().and_then(|s| LocationName::parse(s).ok()),
                    "must be 1 to 120 characters without control characters",
                );
                let kind = self.required(
                    "kind",
                    |v| v.as_str().and_then(LocationKind::parse),
                    "must be one of shop, storeroom, coldroom, van, other",
                );
                Some(Action::DefineLocation { location: location?, name: name?, kind: kind? })
            }
            "retireLocation" => Some(Action::RetireLocation { location: self.name("location", LocationId::parse)? }),
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
        let barcodes = self.barcodes();
        Some(Action::DefineProduct {
            sku: sku?,
            name: name?,
            category: category?,
            reorder_level: reorder_level?,
            barcodes: barcodes?,
        })
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
            unknown_location: false,
            caller: None,
            expected_version: expected_version.flatten(),
            scanner_id: scanner_id.flatten(),
            occurred_at: occurred_at.flatten(),
            note: note.flatten(),
        }
    }

    fn item(&mut self) -> Option<ItemKey> {
        let location = self.name("location", LocationId::parse);
        let sku = self.product();
        Some(ItemKey { location: location?, sku: sku? })
    }

    /// A stock command's `sku`, or its `barcode` instead: exactly one of the two. For a barcode, the sku is a
    /// stand-in that never leaves the parser (`ParsedCommand::with_sku` puts the real one in its place).
    fn product(&mut self) -> Option<Sku> {
        let object = self.object;
        let given = |field: &str| object.get(field).is_some_and(|v| !v.is_null());
        match (given("sku"), given("barcode")) {
            (true, true) => {
                self.error("barcode", "give either sku or barcode, not both");
                None
            }
            (false, true) => {
                self.barcode = self.required("barcode", as_gtin, GTIN_MESSAGE);
                self.barcode.as_ref().and_then(|gtin| Sku::parse(&gtin.key()).ok())
            }
            (true, false) => self.name("sku", Sku::parse),
            (false, false) => {
                self.error("sku", "is required (or give barcode instead)");
                None
            }
        }
    }

    /// `defineProduct`'s `barcodes`: at most `MAX_BARCODES` GTINs, each once; every bad one named by its index.
    fn barcodes(&mut self) -> Option<Option<Vec<Gtin>>> {
        let Some(value) = self.object.get("barcodes").filter(|v| !v.is_null()) else { return Some(None) };
        let Some(entries) = value.as_array().filter(|a| a.len() <= MAX_BARCODES) else {
            self.error("barcodes", &format!("must be an array of at most {MAX_BARCODES} GTINs"));
            return None;
        };
        let mut barcodes: Vec<Gtin> = Vec::with_capacity(entries.len());
        let mut valid = true;
        for (index, entry) in entries.iter().enumerate() {
            let field = format!("barcodes[{index}]");
            match entry.as_str().map(Gtin::parse) {
                Some(Ok(gtin)) if barcodes.contains(&gtin) => {
                    self.error(&field, "repeats a barcode listed before it (GTINs compare as 14 digits)");
                    valid = false;
                }
                Some(Ok(gtin)) => barcodes.push(gtin),
                Some(Err(error)) => {
                    self.error(&field, &format!("{GTIN_MESSAGE}: {error}"));
                    valid = false;
                }
                None => {
                    self.error(&field, GTIN_MESSAGE);
                    valid = false;
                }
            }
        }
        valid.then_some(Some(barcodes))
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

use super::wire_rules::GTIN_RULE as GTIN_MESSAGE;

fn as_gtin(v: &Value) -> Option<Gtin> {
    v.as_str().and_then(|s| Gtin::parse(s).ok())
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
        assert!(matches!(parsed.command(None).unwrap().action, Action::Receive { .. }));
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
        assert_eq!(parsed.command(None).unwrap().meta.expected_version, Some(Version(2)));
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
    fn location_commands_parse_and_every_bad_field_is_named() {
        let define = json!({"commandId": ID, "type": "defineLocation", "location": "store-1", "name": " High St ",
                            "kind": "shop"});
        let parsed = parse(&define, "").unwrap().command(None).unwrap().action;
        assert!(
            matches!(parsed, Action::DefineLocation { ref name, kind: LocationKind::Shop, .. } if name.as_str() == "High St")
        );
        let bad = json!({"commandId": ID, "type": "defineLocation", "location": "Store 1", "name": "x".repeat(121),
                         "kind": "castle", "sku": "apple-pie"});
        let fields: Vec<String> = parse(&bad, "").unwrap_err().into_iter().map(|e| e.field).collect();
        for f in ["location", "name", "kind", "sku"] {
            assert!(fields.contains(&f.to_string()), "{f} missing from {fields:?}");
        }
        let missing = json!({"commandId": ID, "type": "defineLocation", "location": "store-1"});
        let fields: Vec<String> = parse(&missing, "").unwrap_err().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["name", "kind"]);
        let retire = json!({"commandId": ID, "type": "retireLocation", "location": "store-1"});
        assert!(matches!(parse(&retire, "").unwrap().command(None).unwrap().action, Action::RetireLocation { .. }));
    }

    /// The fuzz seeds of location commands are what they say: two valid, one with every field bad.
    #[test]
    fn the_location_fuzz_seeds_parse_as_named() {
        let seed = |text: &str| serde_json::from_str::<Value>(text).unwrap();
        assert!(parse(&seed(include_str!("../../../fuzz/corpus/command_body/seed-define-location.json")), "").is_ok());
        assert!(parse(&seed(include_str!("../../../fuzz/corpus/command_body/seed-retire-location.json")), "").is_ok());
        let invalid = seed(include_str!("../../../fuzz/corpus/command_body/seed-define-location-invalid.json"));
        assert_eq!(parse(&invalid, "").unwrap_err().len(), 4);
    }

    #[test]
    fn a_transfer_to_the_same_place_is_refused() {
        let body = json!({"commandId": ID, "type": "transfer", "from": "a", "to": "a", "sku": "b", "quantity": 1});
        assert_eq!(parse(&body, "").unwrap_err()[0].field, "to");
    }

    fn sku(s: &str) -> Sku {
        Sku::parse(s).unwrap()
    }

    #[test]
    fn a_barcode_stands_in_for_the_sku_until_the_write_side_names_it() {
        let body = json!({"commandId": ID, "type": "receive", "location": "store-1", "barcode": "4006381333931",
                          "quantity": 3});
        let parsed = parse(&body, "").unwrap();
        assert_eq!(parsed.barcode(), Some(&Gtin::parse("4006381333931").unwrap()));
        assert!(parsed.command(None).is_err(), "a barcode command is not decided before its sku is known");
        let command = parsed.command(Some(&sku("apple-pie"))).unwrap();
        let Action::Receive { item, quantity } = command.action else { panic!("{command:?}") };
        assert_eq!((item.sku.as_str(), quantity.get()), ("apple-pie", 3));
        let transfer = json!({"commandId": ID, "type": "transfer", "from": "a", "to": "b", "barcode": "96385074",
                              "quantity": 1});
        let command = parse(&transfer, "").unwrap().command(Some(&sku("pie"))).unwrap();
        assert!(matches!(command.action, Action::Transfer { sku, .. } if sku.as_str() == "pie"));
    }

    #[test]
    fn exactly_one_of_sku_and_barcode_is_given() {
        let both = json!({"commandId": ID, "type": "count", "location": "a", "sku": "b", "barcode": "96385074",
                          "quantity": 0});
        assert_eq!(
            parse(&both, "").unwrap_err(),
            vec![FieldError::new("barcode", "give either sku or barcode, not both")]
        );
        let neither = json!({"commandId": ID, "type": "remove", "location": "a", "quantity": 1, "reason": "sold"});
        let errors = parse(&neither, "commands[2].").unwrap_err();
        assert_eq!(errors, vec![FieldError::new("commands[2].sku", "is required (or give barcode instead)")]);
    }

    #[test]
    fn a_bad_barcode_is_refused_by_name() {
        for bad in [json!("4006381333932"), json!("400638133393"), json!(4006381333931u64), json!("abc")] {
            let body = json!({"commandId": ID, "type": "receive", "location": "a", "barcode": bad, "quantity": 1});
            assert_eq!(parse(&body, "").unwrap_err()[0].field, "barcode", "{bad}");
        }
    }

    #[test]
    fn a_products_barcodes_are_each_checked_and_named_by_index() {
        let body = json!({"commandId": ID, "type": "defineProduct", "sku": "b", "name": "B",
                          "barcodes": ["4006381333931", "4006381333932", "036000291452", "0036000291452", 7]});
        let fields: Vec<String> = parse(&body, "").unwrap_err().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["barcodes[1]", "barcodes[3]", "barcodes[4]"], "a wrong digit, a repeat, not a string");
        let many: Vec<String> = (0..=MAX_BARCODES).map(|_| "96385074".to_owned()).collect();
        let body = json!({"commandId": ID, "type": "defineProduct", "sku": "b", "name": "B", "barcodes": many});
        assert_eq!(parse(&body, "").unwrap_err()[0].field, "barcodes");
        let kept = json!({"commandId": ID, "type": "defineProduct", "sku": "b", "name": "B"});
        let Action::DefineProduct { barcodes, .. } = parse(&kept, "").unwrap().command(None).unwrap().action else {
            panic!()
        };
        assert_eq!(barcodes, None, "no list keeps the product's barcodes");
        let defined = json!({"commandId": ID, "type": "defineProduct", "sku": "b", "name": "B", "barcode": "96385074"});
        assert_eq!(parse(&defined, "").unwrap_err()[0].field, "barcode", "a product is defined by its sku");
    }

    /// A retry of a command sent with a barcode hashes as the body sent, so it is the same command again.
    #[test]
    fn a_barcode_command_hashes_as_sent() {
        let body = json!({"commandId": ID, "type": "receive", "location": "a", "barcode": "96385074", "quantity": 1});
        let by_sku = json!({"commandId": ID, "type": "receive", "location": "a", "sku": "pie", "quantity": 1});
        assert_eq!(parse(&body, "").unwrap().request_hash, parse(&body.clone(), "").unwrap().request_hash);
        assert_ne!(parse(&body, "").unwrap().request_hash, parse(&by_sku, "").unwrap().request_hash);
    }
}
