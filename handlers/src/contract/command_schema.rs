//! The command bodies of `docs/API.md`, described for the OpenAPI document. The parser (`command_body`) is
//! hand-written, so these types are never deserialized: they exist to be described, and the tests below hold
//! their fields to the parser's lists and their rules to the parser's answers.

#![allow(dead_code)]

use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::schema::{AnyOfBuilder, Array, ArrayBuilder, ObjectBuilder, Ref, SchemaType};

use super::wire_rules::{self, Reason};

/// Any command, told apart by `type`.
#[derive(ToSchema)]
#[serde(untagged)]
#[schema(discriminator(property_name = "type", mapping(
    ("receive" = "#/components/schemas/ReceiveCommand"),
    ("remove" = "#/components/schemas/RemoveCommand"),
    ("count" = "#/components/schemas/CountCommand"),
    ("transfer" = "#/components/schemas/TransferCommand"),
    ("defineProduct" = "#/components/schemas/DefineProductCommand"),
    ("defineLocation" = "#/components/schemas/DefineLocationCommand"),
    ("retireLocation" = "#/components/schemas/RetireLocationCommand"),
)))]
pub enum CommandBody {
    Receive(ReceiveCommand),
    Remove(RemoveCommand),
    Count(CountCommand),
    Transfer(TransferCommand),
    DefineProduct(DefineProductCommand),
    DefineLocation(DefineLocationCommand),
    RetireLocation(RetireLocationCommand),
}

/// `POST /api/commands/batch`: applied in order, each on its own (a bad entry is answered `rejected`; the
/// others still apply).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(examples(json!({"commands": [
    {"commandId": "8c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f", "type": "transfer", "from": "store-1", "to": "van",
     "sku": "apple-pie", "quantity": 6},
    {"commandId": "9d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a", "type": "remove", "location": "van", "sku": "apple-pie",
     "quantity": 2, "reason": "sold"}]})))]
pub struct BatchBody {
    #[schema(schema_with = batch_entries)]
    commands: Vec<CommandBody>,
}

/// A batch's entries: commands, or anything else, which is what the server takes (so that generators and readers
/// see commands, and no entry is a schema violation the server answers 200).
fn batch_entries() -> Array {
    ArrayBuilder::new()
        .items(
            AnyOfBuilder::new()
                .item(Ref::from_schema_name("CommandBody"))
                .item(ObjectBuilder::new().schema_type(SchemaType::AnyValue)),
        )
        .min_items(Some(1))
        .max_items(Some(500))
        .description(Some(
            "1 to 500 commands. The batch takes any entry: one that is not a valid command (not even a JSON object) is \
             answered `rejected` in its place, and the others still apply.",
        ))
        .build()
}

/// One value of `type` per command (a JSON Schema `enum` of one, which generators turn into a literal).
/// The variant's name in camelCase is the wire value.
macro_rules! command_type {
    ($name:ident, $variant:ident) => {
        #[derive(ToSchema)]
        #[serde(rename_all = "camelCase")]
        pub enum $name {
            $variant,
        }
    };
}
command_type!(ReceiveType, Receive);
command_type!(RemoveType, Remove);
command_type!(CountType, Count);
command_type!(TransferType, Transfer);
command_type!(DefineProductType, DefineProduct);
command_type!(DefineLocationType, DefineLocation);
command_type!(RetireLocationType, RetireLocation);

/// A command's schema: `commandId` and its `type` first, then its own fields, then the members every command
/// may carry, declared here once. (Not a flattened struct: that is an `allOf`, which cannot say
/// `additionalProperties: false`, and the server refuses unknown members.)
macro_rules! command_schema {
    ($(#[$attr:meta])* $name:ident: $kind:ident { $($(#[$field_attr:meta])* $field:ident: $ty:ty,)* }) => {
        #[derive(ToSchema)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        $(#[$attr])*
        pub struct $name {
            #[schema(format = Uuid)]
            command_id: String,
            #[schema(inline)]
            r#type: $kind,
            $($(#[$field_attr])* $field: $ty,)*
            /// The version the client saw of what the command changes (a transfer: its source; `defineProduct`: the
            /// product; `defineLocation`, `retireLocation`: the location): on a mismatch 409 `version-conflict`.
            #[schema(minimum = 0)]
            expected_version: Option<u64>,
            #[schema(schema_with = wire_rules::scanner_id)]
            scanner_id: Option<String>,
            #[schema(schema_with = wire_rules::occurred_at)]
            occurred_at: Option<String>,
            #[schema(schema_with = wire_rules::note)]
            note: Option<String>,
        }
    };
}

command_schema!(
    /// Stock arrives.
    #[schema(examples(json!({"commandId": "6f1b3c9e-3f4a-4a53-9a6e-0b7f1f0c2d11", "type": "receive",
        "location": "store-1", "sku": "apple-pie", "quantity": 24, "scannerId": "till-1"})))]
    ReceiveCommand: ReceiveType {
        #[schema(schema_with = wire_rules::identifier)]
        location: String,
        /// The product; or give `barcode` instead (exactly one of the two; null is none).
        #[schema(schema_with = wire_rules::nullable_identifier)]
        sku: Option<String>,
        /// A barcode of the product, instead of its `sku`: the server finds the one product that has it (409
        /// `unknown-barcode` when none does; nothing is stored, so the scan can be sent again once the product is
        /// defined). Answers and events name the sku.
        #[schema(schema_with = wire_rules::nullable_gtin)]
        barcode: Option<String>,
        #[schema(minimum = 1, maximum = 1_000_000)]
        quantity: u32,
    }
);

command_schema!(
    /// Stock leaves; a live command (no `occurredAt`) is refused 409 `insufficient-stock` if more than on hand.
    #[schema(examples(json!({"commandId": "9d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a", "type": "remove",
        "location": "van", "sku": "apple-pie", "quantity": 2, "reason": "sold"})))]
    RemoveCommand: RemoveType {
        #[schema(schema_with = wire_rules::identifier)]
        location: String,
        /// The product; or give `barcode` instead (exactly one of the two; null is none).
        #[schema(schema_with = wire_rules::nullable_identifier)]
        sku: Option<String>,
        /// A barcode of the product, instead of its `sku`: the server finds the one product that has it (409
        /// `unknown-barcode` when none does; nothing is stored, so the scan can be sent again once the product is
        /// defined). Answers and events name the sku.
        #[schema(schema_with = wire_rules::nullable_gtin)]
        barcode: Option<String>,
        #[schema(minimum = 1, maximum = 1_000_000)]
        quantity: u32,
        #[schema(value_type = Reason)]
        reason: (),
    }
);

command_schema!(
    /// A stock-take: the item held `quantity`.
    #[schema(examples(json!({"commandId": "ae3f4a5b-6c7d-4e8f-9a0b-1c2d3e4f5a6b", "type": "count",
        "location": "store-1", "sku": "apple-pie", "quantity": 17})))]
    CountCommand: CountType {
        #[schema(schema_with = wire_rules::identifier)]
        location: String,
        /// The product; or give `barcode` instead (exactly one of the two; null is none).
        #[schema(schema_with = wire_rules::nullable_identifier)]
        sku: Option<String>,
        /// A barcode of the product, instead of its `sku`: the server finds the one product that has it (409
        /// `unknown-barcode` when none does; nothing is stored, so the scan can be sent again once the product is
        /// defined). Answers and events name the sku.
        #[schema(schema_with = wire_rules::nullable_gtin)]
        barcode: Option<String>,
        #[schema(minimum = 0, maximum = 1_000_000)]
        quantity: u32,
    }
);

command_schema!(
    /// Moves stock between two locations (`to` must differ from `from`: 400 otherwise); `expectedVersion` applies
    /// to the source.
    #[schema(examples(json!({"commandId": "8c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f", "type": "transfer",
        "from": "store-1", "to": "van", "sku": "apple-pie", "quantity": 6})))]
    TransferCommand: TransferType {
        #[schema(schema_with = wire_rules::identifier)]
        from: String,
        #[schema(schema_with = wire_rules::identifier)]
        to: String,
        /// The product; or give `barcode` instead (exactly one of the two; null is none).
        #[schema(schema_with = wire_rules::nullable_identifier)]
        sku: Option<String>,
        /// A barcode of the product, instead of its `sku`: the server finds the one product that has it (409
        /// `unknown-barcode` when none does; nothing is stored, so the scan can be sent again once the product is
        /// defined). Answers and events name the sku.
        #[schema(schema_with = wire_rules::nullable_gtin)]
        barcode: Option<String>,
        #[schema(minimum = 1, maximum = 1_000_000)]
        quantity: u32,
    }
);

command_schema!(
    /// Creates or renames a product, and gives it its barcodes.
    #[schema(examples(json!({"commandId": "0b8e8a4e-1f0e-4b8a-9a57-2c7c1d0e9f10", "type": "defineProduct",
        "sku": "apple-pie", "name": "Apple Pie", "category": "pies", "reorderLevel": 10,
        "barcodes": ["4006381333931"]})))]
    DefineProductCommand: DefineProductType {
        #[schema(schema_with = wire_rules::identifier)]
        sku: String,
        /// 1 to 120 characters once surrounding white space is trimmed, no control characters.
        #[schema(
            pattern = "^\\s*[^\\s\\x00-\\x1f\\x7f-\\x9f]([^\\x00-\\x1f\\x7f-\\x9f]{0,118}[^\\s\\x00-\\x1f\\x7f-\\x9f])?\\s*$"
        )]
        name: String,
        #[schema(min_length = 1, max_length = 64)]
        category: Option<String>,
        #[schema(minimum = 0, maximum = 1_000_000)]
        reorder_level: Option<u32>,
        #[schema(schema_with = wire_rules::barcodes)]
        barcodes: Option<Vec<String>>,
    }
);

command_schema!(
    /// Creates a location, or renames it, changes its kind, or re-activates it if retired. `kind` is required
    /// every time (a rename states it again), so the definition is always whole.
    #[schema(examples(json!({"commandId": "1c9f9b5f-2a1f-4c9b-8b68-3d8d2e1fa021", "type": "defineLocation",
        "location": "store-1", "name": "High Street", "kind": "shop"})))]
    DefineLocationCommand: DefineLocationType {
        #[schema(schema_with = wire_rules::location)]
        location: String,
        /// 1 to 120 characters once surrounding white space is trimmed, no control characters.
        #[schema(
            pattern = "^\\s*[^\\s\\x00-\\x1f\\x7f-\\x9f]([^\\x00-\\x1f\\x7f-\\x9f]{0,118}[^\\s\\x00-\\x1f\\x7f-\\x9f])?\\s*$"
        )]
        name: String,
        #[schema(value_type = wire_rules::LocationKindRule)]
        kind: (),
    }
);

command_schema!(
    /// Retires a defined location (409 `unknown-location` if it was never defined); defining it again re-activates
    /// it. Under `PIESHOP_UNKNOWN_LOCATIONS=refuse`, live commands naming a retired location are refused.
    #[schema(examples(json!({"commandId": "2d0a0c6a-3b2a-4dac-9c79-4e9e3f2ab132", "type": "retireLocation",
        "location": "van-2"})))]
    RetireLocationCommand: RetireLocationType {
        #[schema(schema_with = wire_rules::location)]
        location: String,
    }
);

/// `POST /api/commands/batch`'s answer: one result per command, in the order sent.
#[derive(Serialize, ToSchema)]
pub struct BatchResponse {
    pub results: Vec<BatchResult>,
}

/// A command's answer, or why it was rejected.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum BatchResult {
    Answered(Box<crate::contract::views::CommandResponse>),
    Rejected(RejectedCommand),
}

/// A command of a batch that was not applied; the others were, each on its own.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RejectedCommand {
    /// Null when the entry had no valid commandId.
    #[schema(format = Uuid)]
    command_id: Option<String>,
    #[schema(inline)]
    status: RejectedStatus,
    #[schema(schema_with = problem_ref)]
    problem: serde_json::Value,
}

impl RejectedCommand {
    /// `problem`: the problem's body, as a single command's answer would carry it.
    pub fn new(command_id: Option<String>, problem: serde_json::Value) -> Self {
        Self { command_id, status: RejectedStatus::Rejected, problem }
    }
}

// `rejected`: the one status of a command a batch did not apply (a comment: a doc comment would describe it).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum RejectedStatus {
    Rejected,
}

/// Any problem body (the document's `Problem` component, built from `http::problem::CATALOGUE`).
fn problem_ref() -> utoipa::openapi::Ref {
    utoipa::openapi::Ref::from_schema_name("Problem")
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use utoipa::PartialSchema;

    use super::*;
    use crate::contract::command_body::{self, COMMON_FIELDS, type_fields};

    fn described<T: PartialSchema>() -> Value {
        serde_json::to_value(T::schema()).unwrap()
    }

    fn every_type() -> [(&'static str, Value); 7] {
        [
            ("receive", described::<ReceiveCommand>()),
            ("remove", described::<RemoveCommand>()),
            ("count", described::<CountCommand>()),
            ("transfer", described::<TransferCommand>()),
            ("defineProduct", described::<DefineProductCommand>()),
            ("defineLocation", described::<DefineLocationCommand>()),
            ("retireLocation", described::<RetireLocationCommand>()),
        ]
    }

    #[test]
    fn each_command_schema_has_exactly_the_fields_the_parser_takes() {
        for (kind, schema) in every_type() {
            let mut fields: Vec<&str> = schema["properties"].as_object().unwrap().keys().map(String::as_str).collect();
            fields.sort_unstable();
            let mut parsed: Vec<&str> = COMMON_FIELDS.iter().chain(type_fields(kind).unwrap()).copied().collect();
            parsed.sort_unstable();
            assert_eq!(fields, parsed, "{kind}");
            assert_eq!(schema["properties"]["type"]["enum"], json!([kind]), "{kind}");
            assert_eq!(schema["additionalProperties"], json!(false), "{kind}: the parser refuses unknown fields");
        }
    }

    #[test]
    fn each_command_schema_example_is_a_command_the_parser_accepts() {
        for (kind, schema) in every_type() {
            let example = &schema["examples"][0];
            assert!(command_body::parse(example, "").is_ok(), "{kind}: {example}");
        }
    }
}
