//! The embedded write model: streams, their ledgers, events (the outbox) and command markers in one SQLite file,
//! each command committed in one transaction.

use std::path::Path;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::migrations::Migrations;
use super::sqlite::{Db, DbError, Savepoint, corrupt};
use crate::contract::{answer_json, event_json};
use crate::domain::{
    Aggregate, CommandId, Event, Gtin, LedgerChange, LedgerRead, Mark, PendingTransfer, Sku, StreamId, Timestamp,
    TransferId,
};
use crate::ports::write_store::{CommandOutcome, Commit, CommitResult, ETag, EventRef, Snapshot};
use crate::ports::{CommandStore, Outbox, Replay, Retention, StoreError, Transfers};

/// Schema version 5 (version 4 plus the barcode registry, `FROM_VERSION_4`). The outbox is its own table of the events in flight, so that committing and publishing
/// an event touch one small, always-cached page instead of an index over every event ever recorded. Markers are
/// appended in commit order and found through a compact index of 16-byte command ids: client-chosen ids are
/// random, so each new marker lands on a random page of that index, and the smaller its entries the fewer
/// of those pages there are to miss in the cache and to split (docs/PERFORMANCE.md). A marker keeps when it was
/// recorded (Unix seconds), so markers past the idempotency window can be swept from the oldest. Each item's
/// movements since its latest count are rows of `movements`, in time order within the item.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS streams (
    stream TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    state TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    stream TEXT NOT NULL,
    version INTEGER NOT NULL,
    recorded_at TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    event_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS markers (
    seq INTEGER PRIMARY KEY,
    command_id BLOB NOT NULL UNIQUE,
    stream TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response TEXT NOT NULL,
    created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS movements (
    stream TEXT NOT NULL,
    at TEXT NOT NULL,
    command TEXT NOT NULL,
    delta INTEGER NOT NULL,
    PRIMARY KEY (stream, at, command)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS transfers (
    transfer_id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    created_at TEXT NOT NULL,
    body TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS barcodes (
    gtin TEXT PRIMARY KEY,
    sku TEXT NOT NULL
) WITHOUT ROWID;
";

/// Version 1 kept a `published` flag on every event, with a unique index on `id` and a partial index of the
/// unpublished ones: three extra pages written per command. Its unpublished events move to the outbox. The
/// version-2 `events` table is spelled out again on purpose: a migration step must produce exactly its own
/// version, whatever `SCHEMA` later becomes.
const FROM_VERSION_1: &str = "
CREATE TABLE events_v2 (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    stream TEXT NOT NULL,
    version INTEGER NOT NULL,
    recorded_at TEXT NOT NULL,
    body TEXT NOT NULL
);
INSERT INTO events_v2 (seq, id, stream, version, recorded_at, body)
    SELECT seq, id, stream, version, recorded_at, body FROM events;
CREATE TABLE outbox (event_id TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO outbox (event_id, seq) SELECT id, seq FROM events WHERE published = 0;
DROP TABLE events;
ALTER TABLE events_v2 RENAME TO events;
PRAGMA user_version = 2;
";

/// Version 2 kept markers in a table ordered by their text command id, each row holding the whole response:
/// a random insert into ~40 MB after a few seconds of load, splitting a page every few commands.
const FROM_VERSION_2: &str = "
CREATE TABLE markers_v3 (
    seq INTEGER PRIMARY KEY,
    command_id BLOB NOT NULL UNIQUE,
    stream TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response TEXT NOT NULL
);
INSERT INTO markers_v3 (command_id, stream, request_hash, response)
    SELECT unhex(replace(command_id, '-', '')), stream, request_hash, response FROM markers;
DROP TABLE markers;
ALTER TABLE markers_v3 RENAME TO markers;
PRAGMA user_version = 3;
";

/// Version 3 kept an item's movements since its latest count inside its state (`history`, at most 10,000, older
/// ones folded into the stock past a `horizon`), and markers without their time. The movements move to the
/// ledger and the state keeps where they start (`base`: the stock less all of them) and lie (`ledger`); markers
/// count as recorded at the migration, so they live one whole idempotency window from it.
const FROM_VERSION_3: &str = "
CREATE TABLE IF NOT EXISTS streams (stream TEXT PRIMARY KEY, version INTEGER NOT NULL, state TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE movements (
    stream TEXT NOT NULL,
    at TEXT NOT NULL,
    command TEXT NOT NULL,
    delta INTEGER NOT NULL,
    PRIMARY KEY (stream, at, command)
) WITHOUT ROWID;
INSERT INTO movements (stream, at, command, delta)
    SELECT s.stream, h.value ->> 0, h.value ->> 1, h.value ->> 2 FROM streams s, json_each(s.state, '$.history') h;
UPDATE streams SET state = json_set(state, '$.ledger', json_object(
        'first', json_object('at', state ->> '$.history[0][0]', 'command', state ->> '$.history[0][1]'),
        'last', json_object('at', state ->> '$.history[#-1][0]', 'command', state ->> '$.history[#-1][1]')))
    WHERE json_array_length(state, '$.history') > 0;
UPDATE streams SET state = json_remove(json_set(state, '$.base', (state ->> '$.quantity')
        - coalesce((SELECT sum(h.value ->> 2) FROM json_each(state, '$.history') h), 0)), '$.history')
    WHERE state ->> '$.kind' = 'item';
CREATE TABLE markers_v4 (
    seq INTEGER PRIMARY KEY,
    command_id BLOB NOT NULL UNIQUE,
    stream TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response TEXT NOT NULL,
    created INTEGER NOT NULL
);
INSERT INTO markers_v4 (seq, command_id, stream, request_hash, response, created)
    SELECT seq, command_id, stream, request_hash, response, unixepoch() FROM markers;
DROP TABLE markers;
ALTER TABLE markers_v4 RENAME TO markers;
PRAGMA user_version = 4;
";

/// Version 4 knew no barcodes. Version 5 keeps the registry of them: one row per barcode (its 14-digit GS1 form)
/// naming the one sku that has it, written in the same transaction as the product's definition, so the primary
/// key is what keeps a barcode to one product. Products of version 4 have none, so the table starts empty. The
/// schema's DDL alone would add the table; the version says that a release before barcodes must not write this
/// file (it would define products without keeping the registry, and two products could share a barcode).
const FROM_VERSION_4: &str = "
CREATE TABLE barcodes (
    gtin TEXT PRIMARY KEY,
    sku TEXT NOT NULL
) WITHOUT ROWID;
PRAGMA user_version = 5;
";

/// Most movements one count deletes in its commit (keeping the commit small); any left are never read (reads
/// stop at the latest count) and the item's next count takes them.
const COMPACT_MAX: i64 = 512;

/// Version 1 never set `user_version`: it is a file with an `events` table and version 0.
const MIGRATIONS: Migrations = Migrations {
    file: "write.db",
    table: "events",
    unversioned: 1,
    steps: &[FROM_VERSION_1, FROM_VERSION_2, FROM_VERSION_3, FROM_VERSION_4],
};

/// The write store on SQLite (`write.db` in the data directory).
#[derive(Clone)]
pub struct SqliteWriteStore {
    db: Db,
}

impl SqliteWriteStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self { db: Db::open_migrated(path, &MIGRATIONS, SCHEMA).map_err(StoreError::from)? })
    }
}

/// A stream's ETag here is its version: every commit is conditional on it.
fn etag_of(aggregate: &Aggregate) -> ETag {
    ETag(aggregate.version().0.to_string())
}

fn snapshot(aggregate: Aggregate) -> Snapshot {
    Snapshot { etag: etag_of(&aggregate), aggregate, cached: false }
}

fn decode_aggregate(text: &str) -> Result<Aggregate, DbError> {
    serde_json::from_str(text).map_err(corrupt)
}

fn decode_event(text: &str) -> Result<Event, DbError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(corrupt)?;
    event_json::decode(&value).map_err(corrupt)
}

fn find_outcome(tx: &Connection, command: CommandId) -> Result<Option<CommandOutcome>, DbError> {
    let row = tx
        .prepare_cached("SELECT request_hash, response FROM markers WHERE command_id = ?1")?
        .query_row(params![command.0.as_bytes()], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))
        .optional()?;
    let Some((request_hash, response)) = row else { return Ok(None) };
    let answer = answer_json::decode(&response).map_err(corrupt)?;
    Ok(Some(CommandOutcome { command_id: command, request_hash, answer: Some(answer) }))
}

/// Records the command's marker; `false` if the command already has one (nothing is written then).
fn insert_marker(tx: &Connection, commit: &Commit) -> Result<bool, DbError> {
    let outcome = &commit.outcome;
    let inserted = tx
        .prepare_cached(
            "INSERT INTO markers (command_id, stream, request_hash, response, created)
             VALUES (?1, ?2, ?3, ?4, unixepoch()) ON CONFLICT (command_id) DO NOTHING",
        )?
        .execute(params![
            outcome.command_id.0.as_bytes(),
            commit.stream.to_string(),
            outcome.request_hash,
            outcome.answer.as_ref().map(answer_json::encode).unwrap_or_default()
        ])?;
    Ok(inserted == 1)
}

/// Writes the new state if the stream still has the expected version; `false` on a conflict.
fn write_state(tx: &Connection, commit: &Commit) -> Result<bool, DbError> {
    let state = serde_json::to_string(&commit.state).map_err(corrupt)?;
    let stream = commit.stream.to_string();
    let version = commit.state.version().0 as i64;
    let changed = match &commit.expected {
        None => tx
            .prepare_cached(
                "INSERT INTO streams (stream, version, state) VALUES (?1, ?2, ?3) ON CONFLICT (stream) DO NOTHING",
            )?
            .execute(params![stream, version, state])?,
        Some(ETag(expected)) => tx
            .prepare_cached("UPDATE streams SET version = ?2, state = ?3 WHERE stream = ?1 AND version = ?4")?
            .execute(params![stream, version, state, expected])?,
    };
    Ok(changed == 1)
}

/// Where a mark sorts among an item's movements: the fixed-width timestamp, then the command id as text
/// (lower-case hex, so text order is the id's order).
fn mark_key(mark: Mark) -> (String, String) {
    (mark.at.to_string(), mark.command.to_string())
}

/// Appends the commit's movement to its item's ledger, or compacts what its count makes unread.
fn write_ledger(tx: &Connection, commit: &Commit) -> Result<(), DbError> {
    let stream = commit.stream.to_string();
    match commit.ledger {
        LedgerChange::None => {}
        LedgerChange::Append(movement) => {
            let (at, command) = mark_key(movement.mark());
            tx.prepare_cached("INSERT INTO movements (stream, at, command, delta) VALUES (?1, ?2, ?3, ?4)")?
                .execute(params![stream, at, command, movement.2])?;
        }
        LedgerChange::Compact(mark) => {
            let (at, command) = mark_key(mark);
            tx.prepare_cached(
                "DELETE FROM movements WHERE stream = ?1 AND (at, command) IN
                 (SELECT at, command FROM movements WHERE stream = ?1 AND (at, command) <= (?2, ?3) LIMIT ?4)",
            )?
            .execute(params![stream, at, command, COMPACT_MAX])?;
        }
    }
    Ok(())
}

/// Claims the barcodes a product's definition gives it and releases those it drops; `Some` names the barcode
/// another product has (the caller then rolls the whole commit back).
fn write_barcodes(tx: &Connection, commit: &Commit) -> Result<Option<(Gtin, Sku)>, DbError> {
    let StreamId::Product(sku) = &commit.stream else { return Ok(None) };
    for barcode in &commit.barcodes.released {
        tx.prepare_cached("DELETE FROM barcodes WHERE gtin = ?1 AND sku = ?2")?
            .execute(params![barcode.key(), sku.as_str()])?;
    }
    for barcode in &commit.barcodes.claimed {
        let owner: String = tx
            .prepare_cached(
                "INSERT INTO barcodes (gtin, sku) VALUES (?1, ?2)
                 ON CONFLICT (gtin) DO UPDATE SET sku = sku RETURNING sku",
            )?
            .query_row(params![barcode.key(), sku.as_str()], |row| row.get(0))?;
        if owner != sku.as_str() {
            return Ok(Some((barcode.clone(), Sku::parse(&owner).map_err(corrupt)?)));
        }
    }
    Ok(None)
}

fn insert_records(tx: &Connection, commit: &Commit) -> Result<(), DbError> {
    for event in &commit.events {
        let id = event.id().to_string();
        tx.prepare_cached("INSERT INTO events (id, stream, version, recorded_at, body) VALUES (?1, ?2, ?3, ?4, ?5)")?
            .execute(params![
            id,
            event.stream().to_string(),
            event.version().0 as i64,
            event.recorded_at().to_string(),
            event_json::to_cloud_event_text(event)
        ])?;
        tx.prepare_cached("INSERT INTO outbox (event_id, seq) VALUES (?1, ?2)")?
            .execute(params![id, tx.last_insert_rowid()])?;
    }
    if let Some(transfer) = &commit.transfer {
        tx.prepare_cached("INSERT INTO transfers (transfer_id, source, created_at, body) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![
                transfer.transfer_id.to_string(),
                commit.stream.to_string(),
                transfer.created_at.to_string(),
                serde_json::to_string(transfer).map_err(corrupt)?
            ])?;
    }
    Ok(())
}

#[async_trait]
impl CommandStore for SqliteWriteStore {
    async fn load(&self, stream: &StreamId) -> Result<Option<Snapshot>, StoreError> {
        let key = stream.to_string();
        let stored = self
            .db
            .read(move |conn| {
                let state = conn
                    .prepare_cached("SELECT state FROM streams WHERE stream = ?1")?
                    .query_row(params![key], |row| row.get::<_, String>(0))
                    .optional()?;
                state.map(|state| decode_aggregate(&state)).transpose()
            })
            .await
            .map_err(StoreError::from)?;
        Ok(stored.map(snapshot))
    }

    /// Nothing is held in memory here (`adapters::stream_cache` does that, around this store).
    fn forget(&self, _stream: &StreamId) {}

    async fn outcome(&self, _stream: &StreamId, command: CommandId) -> Result<Option<CommandOutcome>, StoreError> {
        self.db.read(move |conn| find_outcome(conn, command)).await.map_err(StoreError::from)
    }

    async fn commit(&self, commit: Commit) -> Result<CommitResult, StoreError> {
        let etag = etag_of(&commit.state);
        self.db
            .write(move |conn| {
                // Returning before `commit()` rolls the savepoint back: a refused commit leaves nothing.
                let tx = Savepoint::begin(conn)?;
                // The marker first: its insert is also the duplicate check (one index search, not two).
                if !insert_marker(&tx, &commit)? {
                    let existing = find_outcome(&tx, commit.outcome.command_id)?
                        .ok_or_else(|| corrupt("a marker vanished inside its transaction"))?;
                    return Ok(CommitResult::Duplicate(existing));
                }
                if !write_state(&tx, &commit)? {
                    return Ok(CommitResult::Conflict);
                }
                if let Some((barcode, sku)) = write_barcodes(&tx, &commit)? {
                    return Ok(CommitResult::BarcodeTaken { barcode, sku });
                }
                insert_records(&tx, &commit)?;
                write_ledger(&tx, &commit)?;
                tx.commit()?;
                Ok(CommitResult::Committed { etag })
            })
            .await
            .map_err(StoreError::from)
    }

    async fn sku_for_barcode(&self, barcode: &Gtin) -> Result<Option<Sku>, StoreError> {
        let key = barcode.key();
        let owner = self
            .db
            .read(move |conn| {
                Ok(conn
                    .prepare_cached("SELECT sku FROM barcodes WHERE gtin = ?1")?
                    .query_row(params![key], |row| row.get::<_, String>(0))
                    .optional()?)
            })
            .await
            .map_err(StoreError::from)?;
        owner.map(|sku| Sku::parse(&sku).map_err(|e| StoreError::Corrupt(e.into()))).transpose()
    }

    async fn ledger_sum(&self, stream: &StreamId, read: LedgerRead) -> Result<i64, StoreError> {
        let stream = stream.to_string();
        // Text sorts "" before every mark and "~" after every one.
        let (after_at, after_command) = read.after.map(mark_key).unwrap_or_default();
        let (through_at, through_command) = read.through.map_or(("~".into(), "~".into()), mark_key);
        self.db
            .read(move |conn| {
                Ok(conn
                    .prepare_cached(
                        "SELECT coalesce(sum(delta), 0) FROM movements
                         WHERE stream = ?1 AND (at, command) > (?2, ?3) AND (at, command) <= (?4, ?5)",
                    )?
                    .query_row(params![stream, after_at, after_command, through_at, through_command], |row| {
                        row.get(0)
                    })?)
            })
            .await
            .map_err(StoreError::from)
    }
}

#[async_trait]
impl Retention for SqliteWriteStore {
    /// Looks only at the oldest `limit` markers (they are appended in commit order), so a sweep costs the same
    /// however many markers are kept.
    async fn expire_markers(&self, before: Timestamp, limit: usize) -> Result<usize, StoreError> {
        let before = before.unix_seconds() as i64;
        self.db
            .write(move |conn| {
                let tx = Savepoint::begin(conn)?;
                let deleted = tx
                    .prepare_cached(
                        "DELETE FROM markers WHERE seq IN
                         (SELECT seq FROM (SELECT seq, created FROM markers ORDER BY seq LIMIT ?2) WHERE created < ?1)",
                    )?
                    .execute(params![before, limit as i64])?;
                tx.commit()?;
                Ok(deleted)
            })
            .await
            .map_err(StoreError::from)
    }
}

#[async_trait]
impl Outbox for SqliteWriteStore {
    async fn unpublished(&self, before: Timestamp, limit: usize) -> Result<Vec<Event>, StoreError> {
        self.db
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT e.body FROM outbox o JOIN events e ON e.seq = o.seq
                     WHERE e.recorded_at < ?1 ORDER BY o.seq LIMIT ?2",
                )?;
                let rows = stmt.query_map(params![before.to_string(), limit as i64], |row| row.get::<_, String>(0))?;
                rows.map(|body| decode_event(&body?)).collect()
            })
            .await
            .map_err(StoreError::from)
    }

    async fn mark_published(&self, events: &[EventRef]) -> Result<(), StoreError> {
        let ids: Vec<String> = events.iter().map(|e| e.id.to_string()).collect();
        self.db
            .write(move |conn| {
                let tx = Savepoint::begin(conn)?;
                {
                    let mut stmt = tx.prepare_cached("DELETE FROM outbox WHERE event_id = ?1")?;
                    for id in &ids {
                        stmt.execute(params![id])?;
                    }
                }
                tx.commit()?;
                Ok(())
            })
            .await
            .map_err(StoreError::from)
    }
}

#[async_trait]
impl Transfers for SqliteWriteStore {
    async fn pending_transfers(&self, before: Timestamp, limit: usize) -> Result<Vec<PendingTransfer>, StoreError> {
        self.db
            .read(move |conn| {
                let mut stmt = conn
                    .prepare_cached("SELECT body FROM transfers WHERE created_at < ?1 ORDER BY created_at LIMIT ?2")?;
                let rows = stmt.query_map(params![before.to_string(), limit as i64], |row| row.get::<_, String>(0))?;
                rows.map(|body| serde_json::from_str(&body?).map_err(corrupt)).collect()
            })
            .await
            .map_err(StoreError::from)
    }

    async fn finish_transfer(&self, _source: &StreamId, transfer: TransferId) -> Result<(), StoreError> {
        self.db
            .write(move |conn| {
                conn.prepare_cached("DELETE FROM transfers WHERE transfer_id = ?1")?
                    .execute(params![transfer.to_string()])?;
                Ok(())
            })
            .await
            .map_err(StoreError::from)
    }
}

#[async_trait]
impl Replay for SqliteWriteStore {
    async fn aggregates(&self) -> Result<Vec<Aggregate>, StoreError> {
        self.db
            .read(|conn| {
                let mut stmt = conn.prepare("SELECT state FROM streams ORDER BY stream")?;
                let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
                rows.map(|state| decode_aggregate(&state?)).collect()
            })
            .await
            .map_err(StoreError::from)
    }

    async fn events(&self) -> Result<Vec<Event>, StoreError> {
        self.db
            .read(|conn| {
                let mut stmt = conn.prepare("SELECT body FROM events ORDER BY seq")?;
                let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
                rows.map(|body| decode_event(&body?)).collect()
            })
            .await
            .map_err(StoreError::from)
    }
}
