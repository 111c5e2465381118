//! The embedded read model: items, products, the activity log and a full-text index in one SQLite file.
//! Applies an event only if it is newer than what it holds, so duplicates and stale deliveries change nothing.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use async_trait::async_trait;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use super::migrations::Migrations;
use super::sqlite::{Db, DbError, Savepoint, corrupt};
use crate::contract::event_json;
use crate::domain::{
    Event, EventKind, Gtin, ItemKey, LocationId, ProductEvent, Quantity, Sku, Stock, StockEvent, Timestamp,
};
use crate::domain::{LocationEvent, LocationKind, TransferId, Version};
use crate::ports::read_model::LocationView;
use crate::ports::read_model::{ActivityQuery, Applied, InventoryPage, InventoryQuery, ItemView, LocationTotal};
use crate::ports::read_model::{InTransit, MAX_IN_TRANSIT, ProductTotal, Summary};
use crate::ports::{ReadModel, ReadModelError};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    sku TEXT NOT NULL,
    location TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    version INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (sku, location)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_by_location ON items (location, sku);
CREATE TABLE IF NOT EXISTS products (
    sku TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    category TEXT,
    reorder_level INTEGER,
    version INTEGER NOT NULL
) WITHOUT ROWID;
-- Each product's barcodes from its latest definition, in its order: as given, and in the 14-digit GS1 form that
-- `?barcode=` looks up. Two products may list one barcode for a while, when a later definition elsewhere has
-- taken it and the first product's own release has not arrived yet. A table of its own, not a column of
-- `products`: the schema's DDL adds it to a file of an older release as it is, so the file keeps its version,
-- and an older release reading a newer file ignores it (a rebuild fills it).
CREATE TABLE IF NOT EXISTS product_barcodes (
    sku TEXT NOT NULL,
    position INTEGER NOT NULL,
    gtin TEXT NOT NULL,
    given TEXT NOT NULL,
    PRIMARY KEY (sku, position)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS product_barcodes_by_gtin ON product_barcodes (gtin);
-- No AUTOINCREMENT: activity rows are never deleted one by one, so rowids only grow anyway, and
-- AUTOINCREMENT writes the sqlite_sequence page in every commit. No unique index on event_id either:
-- `log_activity` knows without one whether an event is new (see there).
-- `type` is last because version 2 added it (a rebuild copies rows with SELECT *, column by column).
CREATE TABLE IF NOT EXISTS activity (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    location TEXT,
    sku TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    body TEXT NOT NULL,
    type TEXT NOT NULL DEFAULT ''
);
-- The log's order, newest first, for keyset paging (and the stale check in `log_activity`); one item's
-- history (and one sku's) in the same order.
CREATE INDEX IF NOT EXISTS activity_by_position ON activity (recorded_at, event_id);
CREATE INDEX IF NOT EXISTS activity_by_item ON activity (sku, location, recorded_at, event_id);
-- One row per transfer, merged from both halves in whatever order they arrive: in transit while departed
-- and not arrived.
CREATE TABLE IF NOT EXISTS transfers (
    transfer_id TEXT PRIMARY KEY,
    sku TEXT,
    from_location TEXT,
    to_location TEXT,
    quantity INTEGER,
    since TEXT,
    departed INTEGER NOT NULL DEFAULT 0,
    arrived INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS transfers_in_flight ON transfers (departed, arrived, since);
CREATE TABLE IF NOT EXISTS skus (id INTEGER PRIMARY KEY, sku TEXT NOT NULL UNIQUE);
-- API 1.2's defined locations. Only added, never changed: this idempotent DDL creates it in a file of any version
-- on open, so it needs no migration step, and no version bump that would make an older release (a rollback)
-- refuse a file it can still read correctly (it never reads this table).
CREATE TABLE IF NOT EXISTS locations (
    location TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    retired INTEGER NOT NULL,
    version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS search USING fts5 (words);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
";

/// Before version 1, a unique index on `activity.event_id` deduplicated the log: every event landed on a random
/// page of it (event ids are derived from random command ids), one more page written per event.
const FROM_VERSION_0: &str = "
CREATE TABLE activity_v1 (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    location TEXT,
    sku TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    body TEXT NOT NULL
);
INSERT INTO activity_v1 SELECT seq, event_id, location, sku, recorded_at, body FROM activity;
DROP TABLE activity;
ALTER TABLE activity_v1 RENAME TO activity;
PRAGMA user_version = 1;
";

/// Version 2 pages through the whole log by position, filtered by type: the type gets a column (read from
/// each row's stored event), and the indices follow the log's order (the schema creates them).
const FROM_VERSION_1: &str = "
ALTER TABLE activity ADD COLUMN type TEXT NOT NULL DEFAULT '';
UPDATE activity SET type = coalesce(json_extract(body, '$.type'), '');
DROP INDEX IF EXISTS activity_by_time;
PRAGMA user_version = 2;
";

/// Files from before version 1 have an `activity` table and no `user_version`.
const MIGRATIONS: Migrations =
    Migrations { file: "read.db", table: "activity", unversioned: 0, steps: &[FROM_VERSION_0, FROM_VERSION_1] };

/// The read model on SQLite (`read.db` in the data directory).
#[derive(Clone)]
pub struct SqliteReadModel {
    db: Db,
    path: std::path::PathBuf,
}

impl SqliteReadModel {
    pub fn open(path: &Path) -> Result<Self, ReadModelError> {
        Ok(Self {
            db: Db::open_migrated(path, &MIGRATIONS, SCHEMA).map_err(ReadModelError::from)?,
            path: path.to_owned(),
        })
    }
}

/// Every table of the read model, in the order a swap copies them.
const TABLES: [&str; 9] =
    ["items", "products", "product_barcodes", "activity", "transfers", "skus", "search", "meta", "locations"];

/// Replaces the live tables with the rebuilt file's in one transaction: readers (WAL) see the old
/// tables until the commit and the new ones after it, never a mix.
fn swap_in(conn: &mut Connection, rebuilt: &Path) -> Result<(), DbError> {
    conn.execute("ATTACH DATABASE ?1 AS rebuilt", params![rebuilt.display().to_string()])?;
    let swapped = (|| {
        let tx = conn.transaction()?;
        for table in TABLES {
            // Table names come from the constant above, never from input.
            tx.execute_batch(&format!(
                "DELETE FROM main.{table}; INSERT INTO main.{table} SELECT * FROM rebuilt.{table};"
            ))?;
        }
        tx.commit()
    })();
    conn.execute("DETACH DATABASE rebuilt", [])?;
    swapped.map_err(DbError::from)
}

/// Records the event in the activity log, once per event id. An event just applied is new to the log: it was
/// never applied before, and never stale before either, because the version an item holds only grows. So only
/// a stale event (a duplicate, or one overtaken by a newer one) is looked for, among the few rows recorded at
/// its instant.
fn log_activity(tx: &Connection, event: &Event, applied: Applied) -> Result<(), DbError> {
    let id = event.id().to_string();
    let recorded_at = event.recorded_at().to_string();
    if applied == Applied::Stale {
        let logged = tx
            .prepare_cached("SELECT 1 FROM activity WHERE recorded_at = ?1 AND event_id = ?2")?
            .query_row(params![recorded_at, id], |_| Ok(()))
            .optional()?;
        if logged.is_some() {
            return Ok(());
        }
    }
    let (location, sku) = match event {
        Event::Stock(e) => (Some(e.item.location.as_str()), e.item.sku.as_str()),
        Event::Product(e) => (None, e.sku.as_str()),
        Event::Location(_) => return Ok(()),
    };
    tx.prepare_cached(
        "INSERT INTO activity (event_id, location, sku, recorded_at, body, type) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        id,
        location,
        sku,
        recorded_at,
        event_json::to_cloud_event_text(event),
        event.kind().type_name()
    ])?;
    Ok(())
}

/// Keeps the search index's one row per sku: the sku's words, and the product name once defined. A sku's
/// `skus` row and its search row are written together, so a sku already known needs nothing more unless it
/// brings a name.
fn index_sku(tx: &Connection, sku: &Sku, name: Option<&str>) -> Result<(), DbError> {
    let added = tx
        .prepare_cached("INSERT INTO skus (sku) VALUES (?1) ON CONFLICT (sku) DO NOTHING")?
        .execute(params![sku.as_str()])?
        == 1;
    if !added && name.is_none() {
        return Ok(());
    }
    let id: i64 =
        tx.prepare_cached("SELECT id FROM skus WHERE sku = ?1")?.query_row(params![sku.as_str()], |r| r.get(0))?;
    let words = format!("{} {}", sku.as_str(), name.unwrap_or(""));
    if !added {
        tx.prepare_cached("DELETE FROM search WHERE rowid = ?1")?.execute(params![id])?;
    }
    tx.prepare_cached("INSERT INTO search (rowid, words) VALUES (?1, ?2)")?.execute(params![id, words])?;
    Ok(())
}

fn advance_as_of(tx: &Connection, at: Timestamp) -> Result<(), DbError> {
    tx.prepare_cached(
        "INSERT INTO meta (key, value) VALUES ('as_of', ?1)
         ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
    )?
    .execute(params![at.to_string()])?;
    Ok(())
}

fn apply_stock(tx: &Connection, e: &StockEvent) -> Result<Applied, DbError> {
    let held: Option<i64> = tx
        .prepare_cached("SELECT version FROM items WHERE sku = ?1 AND location = ?2")?
        .query_row(params![e.item.sku.as_str(), e.item.location.as_str()], |r| r.get(0))
        .optional()?;
    if held.is_some_and(|v| v >= e.version.0 as i64) {
        return Ok(Applied::Stale);
    }
    tx.prepare_cached(
        "INSERT INTO items (sku, location, quantity, version, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (sku, location) DO UPDATE SET
           quantity = excluded.quantity, version = excluded.version, updated_at = excluded.updated_at",
    )?
    .execute(params![
        e.item.sku.as_str(),
        e.item.location.as_str(),
        e.quantity.get(),
        e.version.0 as i64,
        e.recorded_at.to_string()
    ])?;
    Ok(Applied::Applied)
}

/// Merges a transfer's half into its row. Both halves only ever set columns, so any order and any number of
/// deliveries end the same.
fn track_transfer(tx: &Connection, e: &StockEvent) -> Result<(), DbError> {
    let Some(leg) = &e.transfer else { return Ok(()) };
    let id = leg.transfer_id.to_string();
    match e.kind {
        EventKind::TransferredOut => tx
            .prepare_cached(
                "INSERT INTO transfers (transfer_id, sku, from_location, to_location, quantity, since, departed)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1)
                 ON CONFLICT (transfer_id) DO UPDATE SET sku = excluded.sku, from_location = excluded.from_location,
                   to_location = excluded.to_location, quantity = excluded.quantity, since = excluded.since,
                   departed = 1",
            )?
            .execute(params![
                id,
                e.item.sku.as_str(),
                leg.from.as_str(),
                leg.to.as_str(),
                e.amount,
                e.occurred_at.unwrap_or(e.recorded_at).to_string()
            ])?,
        _ => tx
            .prepare_cached(
                "INSERT INTO transfers (transfer_id, arrived) VALUES (?1, 1)
                 ON CONFLICT (transfer_id) DO UPDATE SET arrived = 1",
            )?
            .execute(params![id])?,
    };
    Ok(())
}

fn in_transit(conn: &Connection) -> Result<Vec<InTransit>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT transfer_id, sku, from_location, to_location, quantity, since FROM transfers
         WHERE departed = 1 AND arrived = 0 ORDER BY since LIMIT ?1",
    )?;
    let rows = stmt.query_map(params![MAX_IN_TRANSIT as i64], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get::<_, i64>(4)?, r.get(5)?))
    })?;
    rows.map(|row| {
        let (id, sku, from, to, quantity, since): (String, String, String, String, i64, String) = row?;
        Ok(InTransit {
            transfer_id: TransferId::parse(&id).map_err(corrupt)?,
            sku: Sku::parse(&sku).map_err(corrupt)?,
            from: LocationId::parse(&from).map_err(corrupt)?,
            to: LocationId::parse(&to).map_err(corrupt)?,
            quantity: u32::try_from(quantity).map_err(corrupt)?,
            since: Timestamp::parse(&since).map_err(corrupt)?,
        })
    })
    .collect()
}

fn apply_product(tx: &Connection, e: &ProductEvent) -> Result<Applied, DbError> {
    let held: Option<i64> = tx
        .query_row("SELECT version FROM products WHERE sku = ?1", params![e.sku.as_str()], |r| r.get(0))
        .optional()?;
    if held.is_some_and(|v| v >= e.version.0 as i64) {
        return Ok(Applied::Stale);
    }
    tx.execute(
        "INSERT INTO products (sku, name, category, reorder_level, version) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (sku) DO UPDATE SET name = excluded.name, category = excluded.category,
           reorder_level = excluded.reorder_level, version = excluded.version",
        params![e.sku.as_str(), e.name.as_str(), e.category, e.reorder_level.map(Quantity::get), e.version.0 as i64],
    )?;
    tx.prepare_cached("DELETE FROM product_barcodes WHERE sku = ?1")?.execute(params![e.sku.as_str()])?;
    for (position, barcode) in e.barcodes.iter().enumerate() {
        tx.prepare_cached("INSERT INTO product_barcodes (sku, position, gtin, given) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![e.sku.as_str(), position as i64, barcode.key(), barcode.as_str()])?;
    }
    index_sku(tx, &e.sku, Some(e.name.as_str()))?;
    Ok(Applied::Applied)
}

fn apply_location(tx: &Connection, e: &LocationEvent) -> Result<Applied, DbError> {
    let held: Option<i64> = tx
        .prepare_cached("SELECT version FROM locations WHERE location = ?1")?
        .query_row(params![e.location.as_str()], |r| r.get(0))
        .optional()?;
    if held.is_some_and(|v| v >= e.version.0 as i64) {
        return Ok(Applied::Stale);
    }
    tx.prepare_cached(
        "INSERT INTO locations (location, name, kind, retired, version) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (location) DO UPDATE SET name = excluded.name, kind = excluded.kind,
           retired = excluded.retired, version = excluded.version",
    )?
    .execute(params![e.location.as_str(), e.name.as_str(), e.kind.as_str(), e.retired, e.version.0 as i64])?;
    Ok(Applied::Applied)
}

/// Defined locations and the locations of items, merged by id: one pass over each, both sorted.
fn locations(conn: &Connection) -> Result<Vec<LocationView>, DbError> {
    let mut merged: BTreeMap<String, LocationView> = BTreeMap::new();
    let mut defined = conn.prepare_cached("SELECT location, name, kind, retired, version FROM locations")?;
    let rows = defined.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, bool>(3)?,
            r.get::<_, i64>(4)?,
        ))
    })?;
    for row in rows {
        let (location, name, kind, retired, version) = row?;
        let view = LocationView {
            location: LocationId::parse(&location).map_err(corrupt)?,
            name: Some(name),
            kind: Some(LocationKind::parse(&kind).ok_or_else(|| corrupt(format!("location kind {kind:?}")))?),
            retired,
            version: Some(Version(version as u64)),
            skus: 0,
            total: 0,
        };
        merged.insert(location, view);
    }
    let mut held =
        conn.prepare_cached("SELECT location, sum(quantity), sum(quantity > 0) FROM items GROUP BY location")?;
    let rows = held.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))?;
    for row in rows {
        let (location, total, skus) = row?;
        let id = LocationId::parse(&location).map_err(corrupt)?;
        let view = merged.entry(location).or_insert_with(|| LocationView {
            location: id,
            name: None,
            kind: None,
            retired: false,
            version: None,
            skus: 0,
            total: 0,
        });
        (view.total, view.skus) = (total, skus as u64);
    }
    Ok(merged.into_values().collect())
}

/// Turns what a person typed into an FTS5 query of quoted prefix terms, all required. Only letters and
/// digits survive, so nothing typed can become FTS5 syntax.
fn match_expression(text: &str) -> Option<String> {
    let terms: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(16)
        .map(|w| format!("\"{}\"*", w.to_lowercase()))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" AND "))
}

const ITEM_COLUMNS: &str = "SELECT i.location, i.sku, COALESCE(p.name, i.sku), i.quantity, i.version, p.reorder_level,
    i.updated_at FROM items i LEFT JOIN products p ON p.sku = i.sku";

/// An item's row as stored: location, sku, name, quantity, version, reorder level, updated at.
type ItemRow = (String, String, String, i64, i64, Option<i64>, String);

fn item_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ItemRow> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?))
}

fn to_view(row: ItemRow) -> Result<ItemView, DbError> {
    let (location, sku, name, quantity, version, reorder_level, updated_at) = row;
    let quantity_of = |n: i64| {
        u32::try_from(n)
            .ok()
            .and_then(|n| Quantity::new(n).ok())
            .ok_or_else(|| corrupt(format!("quantity {n} out of range")))
    };
    Ok(ItemView {
        location: LocationId::parse(&location).map_err(corrupt)?,
        sku: Sku::parse(&sku).map_err(corrupt)?,
        name,
        quantity: Stock(quantity),
        version: Version(version as u64),
        reorder_level: reorder_level.map(quantity_of).transpose()?,
        updated_at: Timestamp::parse(&updated_at).map_err(corrupt)?,
    })
}

fn inventory(conn: &Connection, q: &InventoryQuery) -> Result<InventoryPage, DbError> {
    let mut sql = format!("{ITEM_COLUMNS} WHERE 1 = 1");
    let mut args: Vec<SqlValue> = Vec::new();
    if let Some(location) = &q.location {
        sql.push_str(" AND i.location = ?");
        args.push(location.to_string().into());
    }
    if let Some(sku) = &q.sku {
        sql.push_str(" AND i.sku = ?");
        args.push(sku.to_string().into());
    }
    if let Some(text) = &q.text {
        let Some(expression) = match_expression(text) else {
            return Ok(InventoryPage { items: Vec::new(), more: false });
        };
        sql.push_str(
            " AND i.sku IN (SELECT s.sku FROM skus s JOIN search ON search.rowid = s.id WHERE search MATCH ?)",
        );
        args.push(expression.into());
    }
    if q.low_stock_only {
        sql.push_str(" AND p.reorder_level IS NOT NULL AND i.quantity <= p.reorder_level");
    }
    if let Some(barcode) = &q.barcode {
        sql.push_str(" AND i.sku IN (SELECT b.sku FROM product_barcodes b WHERE b.gtin = ?)");
        args.push(barcode.key().into());
    }
    if let Some((sku, location)) = &q.after {
        sql.push_str(" AND (i.sku, i.location) > (?, ?)");
        args.push(sku.to_string().into());
        args.push(location.to_string().into());
    }
    sql.push_str(" ORDER BY i.sku, i.location LIMIT ?");
    args.push((q.limit as i64 + 1).into());
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), item_row)?;
    let mut items = rows.map(|r| to_view(r?)).collect::<Result<Vec<_>, _>>()?;
    let more = items.len() > q.limit;
    items.truncate(q.limit);
    Ok(InventoryPage { items, more })
}

fn summary(conn: &Connection) -> Result<Summary, DbError> {
    let mut stmt = conn.prepare_cached(&format!("{ITEM_COLUMNS} ORDER BY i.sku, i.location"))?;
    let rows = stmt.query_map([], item_row)?;
    let mut products: BTreeMap<String, ProductTotal> = BTreeMap::new();
    let mut locations: BTreeMap<String, LocationTotal> = BTreeMap::new();
    for row in rows {
        let item = to_view(row?)?;
        let quantity = item.quantity.get();
        let product = products.entry(item.sku.to_string()).or_insert_with(|| ProductTotal {
            sku: item.sku.clone(),
            name: item.name.clone(),
            total: 0,
            by_location: Vec::new(),
            reorder_level: item.reorder_level,
            barcodes: Vec::new(),
        });
        product.total += quantity;
        product.by_location.push((item.location.clone(), item.quantity));
        let location = locations.entry(item.location.to_string()).or_insert_with(|| LocationTotal {
            location: item.location.clone(),
            total: 0,
            skus: 0,
        });
        location.total += quantity;
        location.skus += u64::from(quantity > 0);
    }
    let mut barcodes = barcodes_by_sku(conn)?;
    let mut defined = conn.prepare_cached("SELECT sku, name, reorder_level FROM products")?;
    let rows =
        defined.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<i64>>(2)?)))?;
    for row in rows {
        let (sku, name, reorder_level) = row?;
        let barcodes = barcodes.remove(&sku).unwrap_or_default();
        if let Some(product) = products.get_mut(&sku) {
            product.barcodes = barcodes;
            continue;
        }
        let reorder_level = reorder_level.and_then(|n| u32::try_from(n).ok()).and_then(|n| Quantity::new(n).ok());
        let parsed = Sku::parse(&sku).map_err(corrupt)?;
        let product = ProductTotal { sku: parsed, name, total: 0, by_location: Vec::new(), reorder_level, barcodes };
        products.insert(sku, product);
    }
    Ok(Summary {
        products: products.into_values().collect(),
        locations: locations.into_values().collect(),
        in_transit: in_transit(conn)?,
    })
}

/// Every product's barcodes, as given, in its order.
fn barcodes_by_sku(conn: &Connection) -> Result<HashMap<String, Vec<Gtin>>, DbError> {
    let mut stmt = conn.prepare_cached("SELECT sku, given FROM product_barcodes ORDER BY sku, position")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut barcodes: HashMap<String, Vec<Gtin>> = HashMap::new();
    for row in rows {
        let (sku, given) = row?;
        barcodes.entry(sku).or_default().push(Gtin::parse(&given).map_err(corrupt)?);
    }
    Ok(barcodes)
}

fn activity(conn: &Connection, q: &ActivityQuery) -> Result<Vec<Event>, DbError> {
    let mut sql = String::from("SELECT body FROM activity WHERE 1 = 1");
    let mut args: Vec<SqlValue> = Vec::new();
    if let Some(location) = &q.location {
        sql.push_str(" AND location = ?");
        args.push(location.to_string().into());
    }
    if let Some(sku) = &q.sku {
        sql.push_str(" AND sku = ?");
        args.push(sku.to_string().into());
    }
    if !q.kinds.is_empty() {
        sql.push_str(&format!(" AND type IN ({})", vec!["?"; q.kinds.len()].join(", ")));
        args.extend(q.kinds.iter().map(|kind| kind.type_name().to_owned().into()));
    }
    // Instants are stored in one fixed-width form, so text order is time order.
    if let Some(from) = q.from {
        sql.push_str(" AND recorded_at >= ?");
        args.push(from.to_string().into());
    }
    if let Some(to) = q.to {
        sql.push_str(" AND recorded_at < ?");
        args.push(to.to_string().into());
    }
    if let Some(before) = &q.before {
        sql.push_str(" AND (recorded_at, event_id) < (?, ?)");
        args.push(before.recorded_at.to_string().into());
        args.push(before.event_id.to_string().into());
    }
    sql.push_str(" ORDER BY recorded_at DESC, event_id DESC LIMIT ?");
    args.push((q.limit as i64).into());
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), |r| r.get::<_, String>(0))?;
    rows.map(|body| {
        let value: serde_json::Value = serde_json::from_str(&body?).map_err(corrupt)?;
        event_json::decode(&value).map_err(corrupt)
    })
    .collect()
}

#[async_trait]
impl ReadModel for SqliteReadModel {
    async fn apply(&self, event: &Event) -> Result<Applied, ReadModelError> {
        let applied = self.apply_batch(std::slice::from_ref(event)).await?;
        applied.into_iter().next().ok_or_else(|| ReadModelError::Corrupt("no outcome for an applied event".into()))
    }

    /// One transaction for the whole batch.
    async fn apply_batch(&self, events: &[Event]) -> Result<Vec<Applied>, ReadModelError> {
        let events = events.to_vec();
        self.db
            .write(move |conn| {
                let tx = Savepoint::begin(conn)?;
                let mut applied = Vec::with_capacity(events.len());
                // A batch mostly repeats a few skus: each needs its search row checked once.
                let mut indexed = HashSet::new();
                for event in &events {
                    let outcome = match event {
                        Event::Stock(e) => {
                            let outcome = apply_stock(&tx, e)?;
                            track_transfer(&tx, e)?;
                            if outcome == Applied::Applied && indexed.insert(&e.item.sku) {
                                index_sku(&tx, &e.item.sku, None)?;
                            }
                            outcome
                        }
                        Event::Product(e) => apply_product(&tx, e)?,
                        Event::Location(e) => apply_location(&tx, e)?,
                    };
                    log_activity(&tx, event, outcome)?;
                    applied.push(outcome);
                }
                // `as_of` is the newest event of the activity log, as on Elasticsearch: a location's events are in
                // neither.
                let logged = events.iter().filter(|e| !matches!(e, Event::Location(_)));
                if let Some(newest) = logged.map(Event::recorded_at).max() {
                    advance_as_of(&tx, newest)?;
                }
                tx.commit()?;
                Ok(applied)
            })
            .await
            .map_err(ReadModelError::from)
    }

    async fn inventory(&self, query: &InventoryQuery) -> Result<InventoryPage, ReadModelError> {
        let query = query.clone();
        self.db.read(move |conn| inventory(conn, &query)).await.map_err(ReadModelError::from)
    }

    async fn item(&self, key: &ItemKey) -> Result<Option<ItemView>, ReadModelError> {
        let query = InventoryQuery {
            location: Some(key.location.clone()),
            sku: Some(key.sku.clone()),
            limit: 1,
            ..Default::default()
        };
        Ok(self.inventory(&query).await?.items.into_iter().next())
    }

    async fn summary(&self) -> Result<Summary, ReadModelError> {
        self.db.read(|conn| summary(conn)).await.map_err(ReadModelError::from)
    }

    async fn locations(&self) -> Result<Vec<LocationView>, ReadModelError> {
        self.db.read(|conn| locations(conn)).await.map_err(ReadModelError::from)
    }

    async fn activity(&self, query: &ActivityQuery) -> Result<Vec<Event>, ReadModelError> {
        let query = query.clone();
        self.db.read(move |conn| activity(conn, &query)).await.map_err(ReadModelError::from)
    }

    async fn rebuild(&self, events: &[Event]) -> Result<(), ReadModelError> {
        let rebuilt = self.path.with_extension("rebuild.db");
        let _ = std::fs::remove_file(&rebuilt);
        let fresh = SqliteReadModel::open(&rebuilt)?;
        for chunk in events.chunks(500) {
            fresh.apply_batch(chunk).await?;
        }
        drop(fresh);
        let path = rebuilt.clone();
        let swapped = self.db.write_alone(move |conn| swap_in(conn, &path)).await.map_err(ReadModelError::from);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", rebuilt.display()));
        }
        swapped
    }

    async fn as_of(&self) -> Result<Option<Timestamp>, ReadModelError> {
        self.db
            .read(|conn| {
                let text: Option<String> = conn
                    .prepare_cached("SELECT value FROM meta WHERE key = 'as_of'")?
                    .query_row([], |r| r.get(0))
                    .optional()?;
                text.map(|t| Timestamp::parse(&t).map_err(corrupt)).transpose()
            })
            .await
            .map_err(ReadModelError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::match_expression;

    #[test]
    fn typed_text_cannot_inject_fts_syntax() {
        assert_eq!(match_expression("apple pie").as_deref(), Some("\"apple\"* AND \"pie\"*"));
        assert_eq!(
            match_expression("\"x\" OR NEAR(y)").as_deref(),
            Some("\"x\"* AND \"or\"* AND \"near\"* AND \"y\"*")
        );
        assert_eq!(match_expression("*** ---"), None);
    }
}
