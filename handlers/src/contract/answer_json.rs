//! Command answers as JSON text: what a write store keeps in a command's marker, so that a retry is answered as
//! the command was. The text is the answer as the API shows it (`views::CommandResponse`), so markers written
//! before answers were typed decode like new ones.

use serde::Serialize;

use super::views::{self, CommandItem, CommandLocation, CommandProduct, CommandResponse, CommandStatus};
use crate::domain::answer::{Changed, CommandAnswer, ItemAnswer, TransferAnswer};
use crate::domain::{CommandId, EventId, Gtin, ItemKey, LocationId, LocationName, LocationState, Outcome, ProductName};
use crate::domain::{ProductState, Sku, TransferId};

/// A stored answer that does not read back as one (a bug or a manual edit).
#[derive(Debug, thiserror::Error)]
#[error("stored command answer unreadable: {0}")]
pub struct AnswerError(String);

fn bad(what: impl std::fmt::Display) -> AnswerError {
    AnswerError(what.to_string())
}

/// The marker's text for an answer.
pub fn encode(answer: &CommandAnswer) -> String {
    text(&views::command_response(answer, false))
}

/// JSON text through `serde_json::Value`, whose maps sort their keys: the bytes answers and markers have always
/// had, whatever order a struct declares its fields in.
pub fn text(body: &impl Serialize) -> String {
    // Infallible for these types: strings, numbers, booleans, options and vectors of them.
    serde_json::to_value(body).map(|value| value.to_string()).unwrap_or_default()
}

/// Reads a marker's text back.
pub fn decode(text: &str) -> Result<CommandAnswer, AnswerError> {
    let stored: CommandResponse = serde_json::from_str(text).map_err(bad)?;
    let outcome = match stored.status {
        CommandStatus::Applied => Outcome::Applied,
        CommandStatus::Adjusted => Outcome::Adjusted,
        CommandStatus::Superseded => Outcome::Superseded,
        CommandStatus::Absorbed => Outcome::Absorbed,
        CommandStatus::Duplicate => return Err(bad("a stored answer is never a duplicate")),
    };
    let changed = match (stored.items, stored.product, stored.location) {
        (Some(items), None, None) => Changed::Items(items.into_iter().map(item).collect::<Result<_, _>>()?),
        (None, Some(product_answer), None) => Changed::Product(product(product_answer)?),
        (None, None, Some(location_answer)) => Changed::Location(location(location_answer)?),
        _ => return Err(bad("an answer holds one of items, a product or a location")),
    };
    let transfer = match (stored.transfer_id, stored.pending) {
        (Some(id), Some(pending)) => {
            Some(TransferAnswer { transfer_id: TransferId::parse(&id).map_err(bad)?, pending })
        }
        (None, None) => None,
        _ => return Err(bad("a transfer's answer has both transferId and pending")),
    };
    Ok(CommandAnswer {
        command_id: CommandId::parse(&stored.command_id).map_err(bad)?,
        outcome,
        delta: stored.delta,
        changed,
        events: stored.events.iter().map(|id| EventId::parse(id).map_err(bad)).collect::<Result<_, _>>()?,
        transfer,
        unknown_location: stored.unknown_location.unwrap_or(false),
    })
}

fn item(item: CommandItem) -> Result<ItemAnswer, AnswerError> {
    let key =
        ItemKey { location: LocationId::parse(&item.location).map_err(bad)?, sku: Sku::parse(&item.sku).map_err(bad)? };
    Ok(ItemAnswer { key, quantity: item.quantity, version: item.version })
}

fn location(location: CommandLocation) -> Result<LocationState, AnswerError> {
    Ok(LocationState {
        location: LocationId::parse(&location.location).map_err(bad)?,
        name: Some(LocationName::parse(&location.name).map_err(bad)?),
        kind: Some(location.kind),
        retired: location.retired,
        version: location.version,
    })
}

fn product(product: CommandProduct) -> Result<ProductState, AnswerError> {
    Ok(ProductState {
        sku: Sku::parse(&product.sku).map_err(bad)?,
        name: product.name.as_deref().map(ProductName::parse).transpose().map_err(bad)?,
        category: product.category,
        reorder_level: product.reorder_level,
        barcodes: product.barcodes.iter().map(|b| Gtin::parse(b)).collect::<Result<_, _>>().map_err(bad)?,
        version: product.version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Markers as the code before typed answers wrote them (`serde_json::Value` text): a stock command, an adjusted
    /// count, a pending transfer and a product. Each decodes, and encodes back to the very same text.
    const OLD_MARKERS: [&str; 4] = [
        r#"{"commandId":"6f1b3c9e-3f4a-4a53-9a6e-0b7f1f0c2d11","events":["1c6d1f58-5a4e-5f7e-9c1e-3f1a2b3c4d5e"],"items":[{"location":"store-1","needsCount":false,"quantity":24,"sku":"apple-pie","version":1}],"status":"applied"}"#,
        r#"{"commandId":"ae3f4a5b-6c7d-4e8f-9a0b-1c2d3e4f5a6b","delta":-3,"events":["2d7e2f69-6b5f-5f8f-8d2f-4f2b3c4d5e6f"],"items":[{"location":"store-1","needsCount":true,"quantity":-2,"sku":"apple-pie","version":5}],"status":"adjusted"}"#,
        r#"{"commandId":"8c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f","events":["3e8f3a7a-7c6a-5a9a-9e3a-5a3c4d5e6f7a"],"items":[{"location":"store-1","needsCount":false,"quantity":18,"sku":"apple-pie","version":2}],"pending":true,"status":"applied","transferId":"8c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"}"#,
        r#"{"commandId":"0b8e8a4e-1f0e-4b8a-9a57-2c7c1d0e9f10","events":["4f9a4b8b-8d7b-5b0b-8f4b-6b4d5e6f7a8b"],"product":{"category":"pies","name":"Apple Pie","reorderLevel":10,"sku":"apple-pie","version":1},"status":"applied"}"#,
    ];

    #[test]
    fn a_marker_written_before_typed_answers_decodes_and_encodes_to_the_same_text() {
        for marker in OLD_MARKERS {
            let answer = decode(marker).unwrap_or_else(|e| panic!("{marker}: {e}"));
            assert_eq!(encode(&answer), marker);
        }
        let adjusted = decode(OLD_MARKERS[1]).unwrap();
        assert_eq!((adjusted.outcome, adjusted.delta), (Outcome::Adjusted, Some(-3)));
        let transfer = decode(OLD_MARKERS[2]).unwrap().transfer.expect("a transfer's answer");
        assert!(transfer.pending);
        assert!(
            matches!(decode(OLD_MARKERS[3]).unwrap().changed, Changed::Product(ref p) if p.reorder_level.is_some())
        );
    }

    /// A location's answer and a flagged record's answer read back as they were written.
    #[test]
    fn location_answers_and_flagged_records_round_trip() {
        for marker in [
            r#"{"commandId":"0b8e8a4e-1f0e-4b8a-9a57-2c7c1d0e9f10","events":["4f9a4b8b-8d7b-5b0b-8f4b-6b4d5e6f7a8b"],"location":{"kind":"shop","location":"store-1","name":"High Street","retired":true,"version":2},"status":"applied"}"#,
            r#"{"commandId":"6f1b3c9e-3f4a-4a53-9a6e-0b7f1f0c2d11","events":["1c6d1f58-5a4e-5f7e-9c1e-3f1a2b3c4d5e"],"items":[{"location":"store-l","needsCount":false,"quantity":24,"sku":"apple-pie","version":1}],"status":"applied","unknownLocation":true}"#,
        ] {
            let answer = decode(marker).unwrap_or_else(|e| panic!("{marker}: {e}"));
            assert_eq!(encode(&answer), marker);
        }
    }

    #[test]
    fn an_unreadable_marker_is_an_error_not_an_empty_answer() {
        for text in ["", "{}", r#"{"status":"applied"}"#, &OLD_MARKERS[0].replace("applied", "duplicate")] {
            assert!(decode(text).is_err(), "{text}");
        }
    }
}
