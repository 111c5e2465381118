//! JSON answers of `API.md`: command responses and query views.

use serde_json::{Value, json};

use crate::domain::{Event, EventId, ItemState, ProductEvent, ProductState, Timestamp, TransferId};
use crate::ports::read_model::{InventoryPage, ItemView, Summary};

/// The answer to an applied command.
pub fn applied_items(command: &str, items: &[ItemState], events: &[EventId]) -> Value {
    json!({
        "commandId": command,
        "status": "applied",
        "items": items.iter().map(item_state).collect::<Vec<_>>(),
        "events": events.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}

/// The answer to an applied transfer: the source, and the destination once its half is applied.
pub fn applied_transfer(
    command: &str,
    transfer: TransferId,
    items: &[ItemState],
    events: &[EventId],
    pending: bool,
) -> Value {
    let mut answer = applied_items(command, items, events);
    answer["transferId"] = json!(transfer.to_string());
    answer["pending"] = json!(pending);
    answer
}

/// The answer to an applied `defineProduct`.
pub fn applied_product(command: &str, product: &ProductState, events: &[EventId]) -> Value {
    json!({
        "commandId": command,
        "status": "applied",
        "product": {
            "sku": product.sku,
            "name": product.name.as_ref().map(|n| n.as_str()),
            "category": product.category,
            "reorderLevel": product.reorder_level,
            "version": product.version,
        },
        "events": events.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}

/// A product as its `productChanged` push message carries it: its state after the event.
pub fn product(product: &ProductEvent) -> Value {
    json!({
        "sku": product.sku,
        "name": product.name.as_str(),
        "category": product.category,
        "reorderLevel": product.reorder_level,
        "version": product.version,
        "updatedAt": product.recorded_at.to_string(),
    })
}

/// The stored answer with its status changed to `duplicate`.
pub fn as_duplicate(stored: &str) -> Value {
    let mut answer: Value = serde_json::from_str(stored).unwrap_or_else(|_| json!({}));
    answer["status"] = json!("duplicate");
    answer
}

fn item_state(item: &ItemState) -> Value {
    json!({"location": item.key.location, "sku": item.key.sku, "quantity": item.quantity, "version": item.version})
}

/// One item as `GET /api/inventory` shows it.
pub fn item_view(item: &ItemView) -> Value {
    json!({
        "location": item.location,
        "sku": item.sku,
        "name": item.name,
        "quantity": item.quantity,
        "version": item.version,
        "reorderLevel": item.reorder_level,
        "low": item.low(),
        "updatedAt": item.updated_at.to_string(),
    })
}

fn as_of(as_of: Option<Timestamp>) -> Value {
    json!(as_of.map(|t| t.to_string()))
}

/// `GET /api/inventory`.
pub fn inventory(page: &InventoryPage, next_cursor: Option<String>, stamp: Option<Timestamp>) -> Value {
    json!({
        "items": page.items.iter().map(item_view).collect::<Vec<_>>(),
        "nextCursor": next_cursor,
        "asOf": as_of(stamp),
    })
}

/// `GET /api/inventory/{location}/{sku}`.
pub fn single_item(item: &ItemView, stamp: Option<Timestamp>) -> Value {
    let mut answer = item_view(item);
    answer["asOf"] = as_of(stamp);
    answer
}

/// `GET /api/inventory/summary`.
pub fn summary(summary: &Summary, stamp: Option<Timestamp>) -> Value {
    let products: Vec<Value> = summary
        .products
        .iter()
        .map(|p| {
            let by_location: serde_json::Map<String, Value> =
                p.by_location.iter().map(|(l, q)| (l.to_string(), json!(q))).collect();
            json!({
                "sku": p.sku,
                "name": p.name,
                "total": p.total,
                "byLocation": by_location,
                "reorderLevel": p.reorder_level,
                "low": p.reorder_level.is_some_and(|level| p.total <= u64::from(level.get())),
            })
        })
        .collect();
    let locations: Vec<Value> =
        summary.locations.iter().map(|l| json!({"location": l.location, "total": l.total, "skus": l.skus})).collect();
    json!({"products": products, "locations": locations, "asOf": as_of(stamp)})
}

/// One entry of `GET /api/activity`.
pub fn activity_entry(event: &Event) -> Value {
    match event {
        Event::Stock(e) => json!({
            "eventId": e.id.to_string(),
            "type": e.kind.type_name(),
            "location": e.item.location,
            "sku": e.item.sku,
            "delta": e.delta,
            "quantity": e.quantity,
            "version": e.version,
            "commandId": e.command_id.to_string(),
            "scannerId": e.scanner_id.as_ref().map(|s| s.as_str()),
            "reason": e.reason.map(|r| r.as_str()),
            "transferId": e.transfer.as_ref().map(|t| t.transfer_id.to_string()),
            "from": e.transfer.as_ref().map(|t| t.from.to_string()),
            "to": e.transfer.as_ref().map(|t| t.to.to_string()),
            "note": e.note,
            "occurredAt": e.occurred_at.map(|t| t.to_string()),
            "recordedAt": e.recorded_at.to_string(),
        }),
        Event::Product(e) => json!({
            "eventId": e.id.to_string(),
            "type": "pieshop.ProductDefined",
            "location": null,
            "sku": e.sku,
            "name": e.name.as_str(),
            "delta": null,
            "quantity": null,
            "version": e.version,
            "commandId": e.command_id.to_string(),
            "scannerId": null,
            "reason": null,
            "occurredAt": null,
            "recordedAt": e.recorded_at.to_string(),
        }),
    }
}

/// `GET /api/activity`.
pub fn activity(events: &[Event], stamp: Option<Timestamp>) -> Value {
    json!({"events": events.iter().map(activity_entry).collect::<Vec<_>>(), "asOf": as_of(stamp)})
}
