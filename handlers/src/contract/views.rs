//! JSON answers of `API.md`: command responses and query views, as typed structs whose `Serialize` writes the
//! answer and whose `ToSchema` describes it in the OpenAPI document, so the two cannot drift apart.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::wire_rules;
use crate::domain::answer::{Changed, CommandAnswer, ItemAnswer};
use crate::domain::{Event, Outcome, ProductEvent, ProductState, Quantity, Stock, Timestamp, Version};
use crate::ports::read_model::{InventoryPage, ItemView, Summary};

/// The rule every `location` and `sku` follows (`docs/API.md`, "Identifiers"); `wire_rules` describes it, and a test
/// in `api::openapi` holds every identifier in the document to it.
pub const IDENTIFIER_PATTERN: &str = crate::domain::ids::NAME_PATTERN;

/// An item's state after a command.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommandItem {
    #[schema(schema_with = wire_rules::location)]
    pub location: String,
    #[schema(schema_with = wire_rules::sku)]
    pub sku: String,
    /// Stock on hand after the command: below zero only when records of what already happened took more than the
    /// item was known to hold (README, "Offline records").
    #[schema(value_type = i64, example = 24)]
    pub quantity: Stock,
    #[schema(value_type = u64, example = 8)]
    pub version: Version,
    /// The quantity is below zero: someone should count the item.
    #[serde(default)] // derived from `quantity`, so a stored answer need not carry it; always sent
    #[schema(required = true)]
    pub needs_count: bool,
}

/// A product's definition after a `defineProduct`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommandProduct {
    #[schema(schema_with = wire_rules::sku)]
    pub sku: String,
    #[schema(example = "Apple Pie")]
    pub name: Option<String>,
    #[schema(example = "pies")]
    pub category: Option<String>,
    #[schema(value_type = Option<u32>, maximum = 1_000_000, example = 10)]
    pub reorder_level: Option<Quantity>,
    #[schema(value_type = u64, example = 1)]
    pub version: Version,
}

/// What a command answers: `items` for stock commands, `product` for `defineProduct`; transfers add
/// `transferId` and `pending`. A replay of an applied command answers the same with `status: duplicate`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(examples(json!({"commandId": "6f1b3c9e-3f4a-4a53-9a6e-0b7f1f0c2d11", "status": "applied",
    "items": [{"location": "store-1", "sku": "apple-pie", "quantity": 24, "version": 1, "needsCount": false}],
    "events": ["1c6d1f58-5a4e-5f7e-9c1e-3f1a2b3c4d5e"]})))]
pub struct CommandResponse {
    #[schema(format = Uuid)]
    pub command_id: String,
    pub status: CommandStatus,
    /// An `adjusted` count: by how much it changed the stock now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<CommandItem>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<CommandProduct>,
    /// The ids of the events the command recorded.
    #[schema(value_type = Vec<uuid::Uuid>)]
    pub events: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Uuid)]
    pub transfer_id: Option<String>,
    /// A transfer whose destination half is still in flight.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<bool>,
}

/// What the command did the first time (`applied`, `adjusted`, `superseded`, `absorbed`: README, "Offline
/// records"); `duplicate` for a replay of the same command (with `Idempotent-Replayed: true`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum CommandStatus {
    Applied,
    Adjusted,
    Superseded,
    Absorbed,
    Duplicate,
}

impl From<Outcome> for CommandStatus {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Applied => CommandStatus::Applied,
            Outcome::Adjusted => CommandStatus::Adjusted,
            Outcome::Superseded => CommandStatus::Superseded,
            Outcome::Absorbed => CommandStatus::Absorbed,
        }
    }
}

/// A command's answer as the API shows it; a replay's says `duplicate`.
pub fn command_response(answer: &CommandAnswer, replayed: bool) -> CommandResponse {
    let (items, product) = match &answer.changed {
        Changed::Items(items) => (Some(items.iter().map(command_item).collect()), None),
        Changed::Product(product) => (None, Some(command_product(product))),
    };
    CommandResponse {
        command_id: answer.command_id.to_string(),
        status: if replayed { CommandStatus::Duplicate } else { answer.outcome.into() },
        delta: answer.delta,
        items,
        product,
        events: answer.events.iter().map(ToString::to_string).collect(),
        transfer_id: answer.transfer.map(|t| t.transfer_id.to_string()),
        pending: answer.transfer.map(|t| t.pending),
    }
}

fn command_item(item: &ItemAnswer) -> CommandItem {
    CommandItem {
        location: item.key.location.to_string(),
        sku: item.key.sku.to_string(),
        quantity: item.quantity,
        version: item.version,
        needs_count: item.quantity.needs_count(),
    }
}

fn command_product(product: &ProductState) -> CommandProduct {
    CommandProduct {
        sku: product.sku.to_string(),
        name: product.name.as_ref().map(|n| n.as_str().to_owned()),
        category: product.category.clone(),
        reorder_level: product.reorder_level,
        version: product.version,
    }
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

/// One item as `GET /api/inventory` shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InventoryItem {
    #[schema(schema_with = wire_rules::location)]
    pub location: String,
    #[schema(schema_with = wire_rules::sku)]
    pub sku: String,
    /// The product's name, or the sku when the product is not defined.
    #[schema(example = "Apple Pie")]
    pub name: String,
    /// Below zero only when records took more than the item was known to hold (`needsCount`).
    #[schema(value_type = i64, example = 17)]
    pub quantity: Stock,
    #[schema(value_type = u64, example = 3)]
    pub version: Version,
    #[schema(value_type = Option<u32>, maximum = 1_000_000, example = 10)]
    pub reorder_level: Option<Quantity>,
    /// Quantity at or below the reorder level.
    pub low: bool,
    /// The quantity is below zero: someone should count the item.
    pub needs_count: bool,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: String,
}

fn inventory_item(item: &ItemView) -> InventoryItem {
    InventoryItem {
        location: item.location.to_string(),
        sku: item.sku.to_string(),
        name: item.name.clone(),
        quantity: item.quantity,
        version: item.version,
        reorder_level: item.reorder_level,
        low: item.low(),
        needs_count: item.quantity.needs_count(),
        updated_at: item.updated_at.to_string(),
    }
}

fn as_of(stamp: Option<Timestamp>) -> Option<String> {
    stamp.map(|t| t.to_string())
}

/// `GET /api/inventory`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InventoryPageView {
    pub items: Vec<InventoryItem>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
    /// The `recordedAt` of the newest event the read model has applied; null when empty.
    #[schema(format = DateTime)]
    pub as_of: Option<String>,
}

/// `GET /api/inventory`.
pub fn inventory(page: &InventoryPage, next_cursor: Option<String>, stamp: Option<Timestamp>) -> InventoryPageView {
    InventoryPageView { items: page.items.iter().map(inventory_item).collect(), next_cursor, as_of: as_of(stamp) }
}

/// `GET /api/inventory/{location}/{sku}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SingleItem {
    #[serde(flatten)]
    pub item: InventoryItem,
    #[schema(format = DateTime)]
    pub as_of: Option<String>,
}

/// `GET /api/inventory/{location}/{sku}`.
pub fn single_item(item: &ItemView, stamp: Option<Timestamp>) -> SingleItem {
    SingleItem { item: inventory_item(item), as_of: as_of(stamp) }
}

/// One product across locations.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SummaryProduct {
    #[schema(schema_with = wire_rules::sku)]
    pub sku: String,
    pub name: String,
    pub total: i64,
    /// Stock on hand per location.
    #[schema(value_type = std::collections::BTreeMap<String, i64>)]
    pub by_location: serde_json::Map<String, Value>,
    #[schema(value_type = Option<u32>, maximum = 1_000_000)]
    pub reorder_level: Option<Quantity>,
    /// The total is at or below the reorder level.
    pub low: bool,
}

/// One location across products.
#[derive(Debug, Serialize, ToSchema)]
pub struct SummaryLocation {
    #[schema(schema_with = wire_rules::location)]
    pub location: String,
    pub total: i64,
    /// Skus with stock on hand here.
    pub skus: u64,
}

/// `GET /api/inventory/summary`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SummaryView {
    pub products: Vec<SummaryProduct>,
    pub locations: Vec<SummaryLocation>,
    /// Transfers whose second half the read model has not seen (oldest first, at most 500): counted at neither end.
    pub in_transit: Vec<InTransitView>,
    #[schema(format = DateTime)]
    pub as_of: Option<String>,
}

/// Stock on its way between two locations.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InTransitView {
    #[schema(format = Uuid)]
    pub transfer_id: String,
    #[schema(schema_with = wire_rules::sku)]
    pub sku: String,
    #[schema(schema_with = wire_rules::location)]
    pub from: String,
    #[schema(schema_with = wire_rules::destination)]
    pub to: String,
    #[schema(example = 6)]
    pub quantity: u32,
    /// When it left: the transfer's `occurredAt`, or when it was recorded.
    #[schema(value_type = String, format = DateTime)]
    pub since: String,
}

/// `GET /api/inventory/summary`.
pub fn summary(summary: &Summary, stamp: Option<Timestamp>) -> SummaryView {
    let products = summary
        .products
        .iter()
        .map(|p| SummaryProduct {
            sku: p.sku.to_string(),
            name: p.name.clone(),
            total: p.total,
            by_location: p.by_location.iter().map(|(l, q)| (l.to_string(), json!(q))).collect(),
            reorder_level: p.reorder_level,
            low: p.reorder_level.is_some_and(|level| p.total <= i64::from(level.get())),
        })
        .collect();
    let locations = summary
        .locations
        .iter()
        .map(|l| SummaryLocation { location: l.location.to_string(), total: l.total, skus: l.skus })
        .collect();
    let in_transit = summary
        .in_transit
        .iter()
        .map(|t| InTransitView {
            transfer_id: t.transfer_id.to_string(),
            sku: t.sku.to_string(),
            from: t.from.to_string(),
            to: t.to.to_string(),
            quantity: t.quantity,
            since: t.since.to_string(),
        })
        .collect();
    SummaryView { products, locations, in_transit, as_of: as_of(stamp) }
}

/// One entry of `GET /api/activity`: a stock event, or a `pieshop.ProductDefined` (with `name`, and
/// `location`, `delta`, `quantity` null).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActivityEntry {
    #[schema(format = Uuid)]
    pub event_id: String,
    #[schema(example = "pieshop.StockReceived")]
    pub r#type: &'static str,
    #[schema(schema_with = wire_rules::nullable_identifier)]
    pub location: Option<String>,
    #[schema(schema_with = wire_rules::identifier)]
    pub sku: String,
    /// The product's name (`ProductDefined` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The signed change it made now (0 when superseded or absorbed).
    pub delta: Option<i64>,
    /// What the command stated: the amount moved, or the quantity counted.
    pub amount: Option<u32>,
    /// What the record did: `applied`, `adjusted`, `superseded`, `absorbed` (README, "Offline records").
    #[schema(example = "applied")]
    pub outcome: Option<&'static str>,
    /// Stock on hand after the event.
    #[schema(value_type = Option<i64>)]
    pub quantity: Option<Stock>,
    #[schema(value_type = u64)]
    pub version: Version,
    #[schema(format = Uuid)]
    pub command_id: String,
    pub scanner_id: Option<String>,
    pub reason: Option<&'static str>,
    #[schema(format = Uuid)]
    pub transfer_id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub note: Option<String>,
    #[schema(format = DateTime)]
    pub occurred_at: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub recorded_at: String,
}

/// One entry of `GET /api/activity`.
pub fn activity_entry(event: &Event) -> ActivityEntry {
    match event {
        Event::Stock(e) => ActivityEntry {
            event_id: e.id.to_string(),
            r#type: e.kind.type_name(),
            location: Some(e.item.location.to_string()),
            sku: e.item.sku.to_string(),
            name: None,
            delta: Some(e.delta),
            amount: Some(e.amount),
            outcome: Some(e.outcome.as_str()),
            quantity: Some(e.quantity),
            version: e.version,
            command_id: e.command_id.to_string(),
            scanner_id: e.scanner_id.as_ref().map(|s| s.as_str().to_owned()),
            reason: e.reason.map(|r| r.as_str()),
            transfer_id: e.transfer.as_ref().map(|t| t.transfer_id.to_string()),
            from: e.transfer.as_ref().map(|t| t.from.to_string()),
            to: e.transfer.as_ref().map(|t| t.to.to_string()),
            note: e.note.clone(),
            occurred_at: e.occurred_at.map(|t| t.to_string()),
            recorded_at: e.recorded_at.to_string(),
        },
        Event::Product(e) => ActivityEntry {
            event_id: e.id.to_string(),
            r#type: "pieshop.ProductDefined",
            location: None,
            sku: e.sku.to_string(),
            name: Some(e.name.as_str().to_owned()),
            delta: None,
            amount: None,
            outcome: None,
            quantity: None,
            version: e.version,
            command_id: e.command_id.to_string(),
            scanner_id: None,
            reason: None,
            transfer_id: None,
            from: None,
            to: None,
            note: None,
            occurred_at: None,
            recorded_at: e.recorded_at.to_string(),
        },
    }
}

/// `GET /api/activity`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActivityView {
    pub events: Vec<ActivityEntry>,
    #[schema(format = DateTime)]
    pub as_of: Option<String>,
}

/// `GET /api/activity`.
pub fn activity(events: &[Event], stamp: Option<Timestamp>) -> ActivityView {
    ActivityView { events: events.iter().map(activity_entry).collect(), as_of: as_of(stamp) }
}

/// `GET /api/health`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
    /// `embedded` or `azure`.
    #[schema(example = "embedded")]
    pub backend: &'static str,
    /// The handler's version.
    pub version: &'static str,
    #[schema(format = DateTime)]
    pub as_of: Option<String>,
    /// The newest event this instance accepted (a command's commit) since it started.
    #[schema(format = DateTime)]
    pub accepted_at: Option<String>,
    /// How far the read model is behind what this instance accepted, in milliseconds (0: caught up; a quiet shop
    /// is not behind).
    pub behind_ms: u64,
    /// Events acknowledged but unreadable.
    pub malformed_events: u64,
    /// Other publishers' events (a type outside `pieshop.`) acknowledged and ignored.
    pub ignored_events: u64,
    /// Events committed and not yet published.
    pub backlog: BacklogView,
    /// This instance's last event, recorded → applied, in milliseconds (null before its first).
    pub lag_ms: Option<u64>,
    /// Live push: who the hub is and what was sent.
    pub push: PushView,
}

/// Live push as this instance sees it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushView {
    /// `self` (standalone: the handler is the hub), `azure-signalr`, or `none`.
    #[schema(example = "self")]
    pub hub: &'static str,
    /// Connected clients (standalone hub only).
    pub clients: Option<usize>,
    pub sent: u64,
    pub failed: u64,
    /// Hints dropped because the queue was full (a hint is only a hint).
    pub dropped: u64,
}

/// The outbox as one look sees it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BacklogView {
    /// How many (at most 500 counted).
    pub events: usize,
    /// More than counted.
    pub more: bool,
    /// The oldest one's age.
    pub oldest_age_seconds: Option<f64>,
}
