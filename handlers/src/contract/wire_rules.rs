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
