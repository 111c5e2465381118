//! The rules many fields of the wire format share, each written once as an OpenAPI schema built from the
//! domain's own constants: identifiers (`location`, `sku`, `from`, `to`), scanner ids, notes, `occurredAt`,
//! removal reasons and location kinds.
//! Fields name them with `#[schema(schema_with = ...)]` and parameters with `value_type` (utoipa's `pattern` and
//! `max_length` take only literals, so a rule cannot be a constant in an attribute). They stay inline in the
//! document, where each field keeps its own example.

#![allow(deprecated)] // `example`: the keyword the document has always used for a field's example

use std::borrow::Cow;

use serde_json::json;
use utoipa::openapi::schema::{KnownFormat, Object, ObjectBuilder, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::domain::barcode::MAX_BARCODES;
use crate::domain::command::{MAX_NOTE_LEN, RemovalReason};
use crate::domain::ids::{MAX_SCANNER_LEN, NAME_PATTERN};
use crate::domain::location::LocationKind;

/// Characters outside the C0 and C1 control blocks (what `char::is_control` refuses).
const NO_CONTROL_CHARACTERS: &str = "^[^\\x00-\\x1f\\x7f-\\x9f]*$";

fn string(nullable: bool) -> ObjectBuilder {
    let kind = if nullable { SchemaType::from_iter([Type::String, Type::Null]) } else { SchemaType::new(Type::String) };
    ObjectBuilder::new().schema_type(kind)
}

fn name(nullable: bool, example: Option<&str>) -> Object {
    string(nullable).pattern(Some(NAME_PATTERN)).example(example.map(|e| json!(e))).build()
}

/// A `location` or `sku` (`API.md`, "Identifiers").
pub fn identifier() -> Object {
    name(false, None)
}

/// An identifier that may be null.
pub fn nullable_identifier() -> Object {
    name(true, None)
}

/// A `location`, shown with an example.
pub fn location() -> Object {
    name(false, Some("store-1"))
}

/// A `sku`, shown with an example.
pub fn sku() -> Object {
    name(false, Some("apple-pie"))
}

/// A transfer's `to`, shown with an example.
pub fn destination() -> Object {
    name(false, Some("van"))
}

/// A GTIN-8, -12, -13 or -14 (`API.md` 1.2, "Barcodes"): the pattern says digits of those lengths; the GS1 check
/// digit is the server's to check (400 when wrong).
pub fn gtin() -> Object {
    gtin_of(false)
}

/// A GTIN that may be null (a command's `barcode`: null is no barcode).
pub fn nullable_gtin() -> Object {
    gtin_of(true)
}

fn gtin_of(nullable: bool) -> Object {
    string(nullable)
        .pattern(Some(GTIN_PATTERN))
        .description(Some(
            "A GTIN-8, -12, -13 or -14: digits with a valid GS1 check digit. GTINs compare as 14 digits padded with \
             zeros on the left (GS1's rule), so `036000291452` and `0036000291452` are the same barcode.",
        ))
        .example(Some(json!("4006381333931")))
        .build()
}

/// The pattern of `gtin`: only the lengths a GTIN has.
pub const GTIN_PATTERN: &str = "^([0-9]{8}|[0-9]{12,14})$";

/// A product's barcodes, as `defineProduct` gives them (null is no list).
pub fn barcodes() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(gtin())
        .max_items(Some(MAX_BARCODES))
        .unique_items(true)
        .description(Some(format!(
            "At most {MAX_BARCODES} GTINs, each once; each names this product alone (409 `barcode-taken` when \
             another product has one). Given, the list replaces the product's barcodes (those left out are released); \
             left out, the product keeps its barcodes."
        )))
        .build()
}

/// The barcodes a product has, as answers show them.
pub fn product_barcodes() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(gtin())
        .max_items(Some(MAX_BARCODES))
        .description(Some("The product's barcodes, as they were given."))
        .build()
}

/// A command's optional `scannerId`.
pub fn scanner_id() -> Object {
    string(true)
        .description(Some(format!("At most {MAX_SCANNER_LEN} characters, no control characters.")))
        .min_length(Some(1))
        .max_length(Some(MAX_SCANNER_LEN))
        .pattern(Some(NO_CONTROL_CHARACTERS))
        .build()
}

/// A command's optional `occurredAt`.
pub fn occurred_at() -> Object {
    string(true)
        .description(Some("The scanner's clock: the command is a record of something that already happened."))
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        .build()
}

/// A command's optional `note`.
pub fn note() -> Object {
    string(true).max_length(Some(MAX_NOTE_LEN)).build()
}

/// An identifier as a path parameter.
pub struct Identifier;

impl PartialSchema for Identifier {
    fn schema() -> RefOr<Schema> {
        identifier().into()
    }
}

impl ToSchema for Identifier {
    fn name() -> Cow<'static, str> {
        "Identifier".into()
    }
}

/// An identifier as a query filter: empty means no filter.
pub struct IdentifierFilter;

impl PartialSchema for IdentifierFilter {
    fn schema() -> RefOr<Schema> {
        let filter = format!("^({})?$", NAME_PATTERN.trim_start_matches('^').trim_end_matches('$'));
        string(false).pattern(Some(filter)).build().into()
    }
}

impl ToSchema for IdentifierFilter {
    fn name() -> Cow<'static, str> {
        "IdentifierFilter".into()
    }
}

/// A barcode as a query filter: empty means no filter.
pub struct GtinFilter;

impl PartialSchema for GtinFilter {
    fn schema() -> RefOr<Schema> {
        let filter = format!("^({})?$", GTIN_PATTERN.trim_start_matches('^').trim_end_matches('$'));
        string(false).pattern(Some(filter)).build().into()
    }
}

impl ToSchema for GtinFilter {
    fn name() -> Cow<'static, str> {
        "GtinFilter".into()
    }
}

/// What a GTIN must be, in words (the message of every 400 about one).
pub const GTIN_RULE: &str = "must be a GTIN-8, -12, -13 or -14: a string of digits with a valid GS1 check digit";

/// A removal's `reason`: the domain's reasons.
pub struct Reason;

impl PartialSchema for Reason {
    fn schema() -> RefOr<Schema> {
        string(false)
            .description(Some("Why stock left."))
            .enum_values(Some(RemovalReason::ALL.map(RemovalReason::as_str)))
            .build()
            .into()
    }
}

impl ToSchema for Reason {
    fn name() -> Cow<'static, str> {
        "Reason".into()
    }
}

/// A location's `kind`: the domain's kinds.
pub struct LocationKindRule;

impl PartialSchema for LocationKindRule {
    fn schema() -> RefOr<Schema> {
        string(false)
            .description(Some("What kind of place a location is."))
            .enum_values(Some(LocationKind::ALL.map(LocationKind::as_str)))
            .build()
            .into()
    }
}

impl ToSchema for LocationKindRule {
    fn name() -> Cow<'static, str> {
        "LocationKind".into()
    }
}
