//! What the port contract suites share: adapters on fresh state, and events to feed them.

use std::sync::Arc;

use pieshop::adapters::elastic::{ElasticReadModel, ElasticSettings};
use pieshop::adapters::embedded::{SqliteReadModel, SqliteWriteStore};
use pieshop::domain::{CommandId, Event, EventId, EventKind, ItemKey, LocationId, ProductEvent, ProductName, Quantity};
use pieshop::domain::{Outcome, Sku, StockEvent, StreamId, Timestamp, Version};

pub use crate::engines::engine;

/// A fresh SQLite write store (its directory lives as long as the returned guard).
pub fn sqlite_store() -> (Arc<SqliteWriteStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (Arc::new(SqliteWriteStore::open(&dir.path().join("write.db")).unwrap()), dir)
}

pub fn sqlite_read_model() -> (Arc<SqliteReadModel>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (Arc::new(SqliteReadModel::open(&dir.path().join("read.db")).unwrap()), dir)
}

pub use crate::cosmos_emulator::{cosmos_client, cosmos_store};

/// An Elasticsearch read model on indices of its own (a unique prefix per test).
pub async fn elastic_read_model() -> Option<Arc<ElasticReadModel>> {
    let url = engine("ELASTICSEARCH_URL")?;
    let settings = ElasticSettings {
        url,
        api_key: None,
        index_prefix: format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
    };
    Some(Arc::new(ElasticReadModel::connect(&settings).await.unwrap()))
}

pub fn key(location: &str, sku: &str) -> ItemKey {
    ItemKey { location: LocationId::parse(location).unwrap(), sku: Sku::parse(sku).unwrap() }
}

pub fn stream(location: &str, sku: &str) -> StreamId {
    StreamId::Item(key(location, sku))
}

/// A stock event at `version` leaving `quantity` on hand, recorded `seconds` after a fixed instant.
pub fn stock(location: &str, sku: &str, version: u64, quantity: u32, seconds: u32) -> Event {
    let command = CommandId(uuid::Uuid::new_v4());
    let stream = stream(location, sku);
    Event::Stock(StockEvent {
        id: EventId::derive(command, &stream),
        kind: EventKind::StockReceived,
        item: key(location, sku),
        delta: 1,
        amount: 1,
        outcome: Outcome::Applied,
        quantity: Quantity::new(quantity).unwrap().into(),
        version: Version(version),
        command_id: command,
        scanner_id: None,
        occurred_at: None,
        recorded_at: Timestamp::parse(&format!("2026-01-15T10:{:02}:{:02}Z", seconds / 60, seconds % 60)).unwrap(),
        reason: None,
        transfer: None,
        note: None,
        unknown_location: false,
        trace: None,
        caller: None,
    })
}

/// A location defined (or, `retired`, retired) as `name`, a shop, at `version`.
pub fn location(location: &str, name: &str, retired: bool, version: u64) -> Event {
    let command = CommandId(uuid::Uuid::new_v4());
    let id = LocationId::parse(location).unwrap();
    Event::Location(pieshop::domain::LocationEvent {
        id: EventId::derive(command, &StreamId::Location(id.clone())),
        retire: retired,
        location: id,
        name: pieshop::domain::LocationName::parse(name).unwrap(),
        kind: pieshop::domain::LocationKind::Shop,
        retired,
        version: Version(version),
        command_id: command,
        recorded_at: Timestamp::now(),
        trace: None,
        caller: None,
    })
}

pub fn product(sku: &str, name: &str, reorder_level: Option<u32>, version: u64) -> Event {
    product_with_barcodes(sku, name, reorder_level, version, &[])
}

/// A product's definition at `version` giving it `barcodes` (GTINs, as written).
pub fn product_with_barcodes(
    sku: &str,
    name: &str,
    reorder_level: Option<u32>,
    version: u64,
    barcodes: &[&str],
) -> Event {
    let command = CommandId(uuid::Uuid::new_v4());
    let sku = Sku::parse(sku).unwrap();
    Event::Product(ProductEvent {
        id: EventId::derive(command, &StreamId::Product(sku.clone())),
        sku,
        name: ProductName::parse(name).unwrap(),
        category: None,
        reorder_level: reorder_level.map(|l| Quantity::new(l).unwrap()),
        barcodes: barcodes.iter().map(|b| pieshop::domain::Gtin::parse(b).unwrap()).collect(),
        version: Version(version),
        command_id: command,
        recorded_at: Timestamp::now(),
        trace: None,
        caller: None,
    })
}

/// `event` as sent by `caller` (API 1.2 "Who did it").
pub fn sent_by(mut event: Event, caller: &str) -> Event {
    let caller = pieshop::domain::Caller::parse(caller);
    match &mut event {
        Event::Stock(e) => e.caller = caller,
        Event::Product(e) => e.caller = caller,
        Event::Location(e) => e.caller = caller,
    }
    event
}
