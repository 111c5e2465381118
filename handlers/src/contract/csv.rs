//! CSV exports of the query answers (`Accept: text/csv` or `format=csv`): RFC 4180 (CRLF line ends, fields quoted
//! where they hold a comma, a quote or a line end, quotes doubled), UTF-8 without a byte-order mark, one header row.
//! Each row is the JSON answer's entry, column for column under the same member names, so a spreadsheet and a
//! program reading the JSON see the same things; a null is an empty field.
//!
//! Text a person typed (a product name, a note, a scanner id) that starts with `=`, `+`, `-`, `@`, a tab or a
//! carriage return is written with a leading `'`, as OWASP advises against CSV formula injection: a spreadsheet
//! would otherwise run `=HYPERLINK(...)` in a product name as a formula. Numbers are never changed (a negative
//! quantity stays `-3`); identifiers and instants cannot start with those characters.

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;

use super::views::{self, ActivityEntry};
use crate::domain::Event;
use crate::ports::read_model::{ItemView, ProductTotal};

/// Why rows could not be written: only a bug gets here (rows are written to memory, from plain views).
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error("CSV could not be written: {0}")]
    Csv(#[from] ::csv::Error),
    #[error("a row could not be encoded: {0}")]
    Encoding(#[from] serde_json::Error),
}

/// The columns of `GET /api/inventory`'s CSV: one row per item, the members of [`InventoryItem`].
pub const INVENTORY: &[&str] =
    &["location", "sku", "name", "quantity", "version", "reorderLevel", "low", "needsCount", "updatedAt"];

/// The columns of `GET /api/inventory/summary`'s CSV: one row per product and location where it has stock
/// recorded (a defined product with none anywhere has one row, with an empty location). `total` is the product's
/// across locations, `low` whether that total is at or below its reorder level, as in the JSON summary, `barcodes`
/// the product's GTINs as given, separated by spaces (a GTIN holds none), so a till's import can match a scan.
pub const SUMMARY: &[&str] = &["sku", "name", "location", "quantity", "total", "reorderLevel", "low", "barcodes"];

/// The columns of `GET /api/activity`'s CSV: one row per event, the members of [`ActivityEntry`].
pub const ACTIVITY: &[&str] = &[
    "eventId",
    "type",
    "location",
    "sku",
    "name",
    "delta",
    "amount",
    "outcome",
    "quantity",
    "version",
    "commandId",
    "scannerId",
    "caller",
    "reason",
    "transferId",
    "from",
    "to",
    "note",
    "occurredAt",
    "recordedAt",
    "unknownLocation",
];

/// The header row.
pub fn header(columns: &[&str]) -> Result<Bytes, CsvError> {
    let mut writer = writer();
    writer.write_record(columns)?;
    finish(writer)
}

/// Rows of items, as `GET /api/inventory` lists them.
pub fn inventory_rows(items: &[ItemView]) -> Result<Bytes, CsvError> {
    rows(INVENTORY, items.iter().map(views::inventory_item))
}

/// Rows of events, as `GET /api/activity` lists them.
pub fn activity_rows(events: &[Event]) -> Result<Bytes, CsvError> {
    rows::<ActivityEntry>(ACTIVITY, events.iter().filter_map(views::activity_entry))
}

/// Rows of products, one per location each has stock recorded at (see [`SUMMARY`]).
pub fn summary_rows(products: &[ProductTotal]) -> Result<Bytes, CsvError> {
    let mut writer = writer();
    for product in products {
        let low = product.reorder_level.is_some_and(|level| product.total <= i64::from(level.get()));
        let barcodes = product.barcodes.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ");
        let fixed = |location: &str, quantity: i64| {
            [
                product.sku.to_string(),
                text(&product.name),
                location.to_owned(),
                quantity.to_string(),
                product.total.to_string(),
                product.reorder_level.map(|l| l.get().to_string()).unwrap_or_default(),
                low.to_string(),
                barcodes.clone(),
            ]
        };
        if product.by_location.is_empty() {
            writer.write_record(fixed("", 0))?;
        }
        for (location, quantity) in &product.by_location {
            writer.write_record(fixed(location.as_str(), quantity.get()))?;
        }
    }
    finish(writer)
}

fn rows<T: Serialize>(columns: &[&str], entries: impl Iterator<Item = T>) -> Result<Bytes, CsvError> {
    let mut writer = writer();
    for entry in entries {
        let value = serde_json::to_value(entry)?;
        writer.write_record(columns.iter().map(|column| cell(&value[*column])))?;
    }
    finish(writer)
}

fn writer() -> ::csv::Writer<Vec<u8>> {
    ::csv::WriterBuilder::new().terminator(::csv::Terminator::CRLF).from_writer(Vec::new())
}

fn finish(writer: ::csv::Writer<Vec<u8>>) -> Result<Bytes, CsvError> {
    let bytes = writer.into_inner().map_err(|e| ::csv::Error::from(e.into_error()))?;
    Ok(Bytes::from(bytes))
}

/// A JSON member as a field: null is empty, numbers and flags as JSON writes them, text guarded.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => text(s),
        other => other.to_string(),
    }
}

/// Text with a leading `'` where a spreadsheet would read it as a formula (see the module's comment).
fn text(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::views::InventoryItem;
    use utoipa::PartialSchema;

    fn members(schema: utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>) -> Vec<String> {
        let value = serde_json::to_value(schema).unwrap();
        value["properties"].as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn every_member_of_an_entry_has_its_column_and_every_column_is_a_member() {
        let mut inventory = members(InventoryItem::schema());
        let mut columns: Vec<String> = INVENTORY.iter().map(|c| c.to_string()).collect();
        inventory.sort();
        columns.sort();
        assert_eq!(inventory, columns, "InventoryItem and the inventory CSV's columns");
        let mut activity = members(ActivityEntry::schema());
        let mut columns: Vec<String> = ACTIVITY.iter().map(|c| c.to_string()).collect();
        activity.sort();
        columns.sort();
        assert_eq!(activity, columns, "ActivityEntry and the activity CSV's columns");
    }

    #[test]
    fn fields_are_quoted_as_rfc_4180_says_and_rows_end_in_crlf() {
        let mut writer = writer();
        writer.write_record(["Pie, \"Bramley\"", "two\nlines", "plain"]).unwrap();
        let text = String::from_utf8(finish(writer).unwrap().to_vec()).unwrap();
        assert_eq!(text, "\"Pie, \"\"Bramley\"\"\",\"two\nlines\",plain\r\n");
    }

    #[test]
    fn text_a_spreadsheet_would_run_as_a_formula_is_defused_and_numbers_are_not() {
        assert_eq!(cell(&Value::from("=HYPERLINK(\"x\")")), "'=HYPERLINK(\"x\")");
        for risky in ["+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert!(cell(&Value::from(risky)).starts_with('\''), "{risky:?}");
        }
        assert_eq!(cell(&Value::from(-3)), "-3", "a negative quantity is a number, kept as it is");
        assert_eq!(cell(&Value::from("Apple Pie")), "Apple Pie");
        assert_eq!(cell(&Value::Null), "");
        assert_eq!(cell(&Value::Bool(true)), "true");
    }
}
