//! Files written by an older schema open under the current one without losing anything: a `write.db` of
//! version 1 (a `published` flag on every event) or 2 (markers keyed by their text command id) keeps its events,
//! outbox and markers; one of version 3 (movements inside the item's state) keeps its items' histories, now in
//! the ledger; a `read.db` of version 0 keeps its activity log, one of version 1 gains its events' types.

use pieshop::adapters::embedded::{SqliteReadModel, SqliteWriteStore};
use pieshop::contract::{answer_json, event_json};
use pieshop::domain::{
    Action, Aggregate, Command, CommandId, CommandMeta, Event, EventKind, ItemState, LedgerChange, Mark, Quantity,
    Stock, Timestamp, Version,
};
use pieshop::ports::read_model::{ActivityPosition, ActivityQuery, Applied};
use pieshop::ports::write_store::{CommandOutcome, Commit, CommitResult, EventRef};
use pieshop::ports::{CommandStore, Outbox, ReadModel, Replay};
use rusqlite::{Connection, params};

use crate::support::{key, stock, stream};

const VERSION_1: &str = "
CREATE TABLE streams (stream TEXT PRIMARY KEY, version INTEGER NOT NULL, state TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    stream TEXT NOT NULL,
    version INTEGER NOT NULL,
    recorded_at TEXT NOT NULL,
    body TEXT NOT NULL,
    published INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX events_unpublished ON events (recorded_at) WHERE published = 0;
CREATE TABLE markers (command_id TEXT PRIMARY KEY, stream TEXT NOT NULL, request_hash TEXT NOT NULL, response TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE transfers (transfer_id TEXT PRIMARY KEY, source TEXT NOT NULL, created_at TEXT NOT NULL, body TEXT NOT NULL) WITHOUT ROWID;
";

#[tokio::test]
async fn a_version_1_file_keeps_its_events_and_its_unpublished_ones_stay_unpublished() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("write.db");
    let (published, waiting) = (stock("store-1", "apple-pie", 1, 10, 0), stock("store-1", "apple-pie", 2, 20, 1));
    {
        let old = Connection::open(&path).unwrap();
        old.execute_batch(VERSION_1).unwrap();
        for (event, flag) in [(&published, 1), (&waiting, 0)] {
            old.execute(
                "INSERT INTO events (id, stream, version, recorded_at, body, published) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    event.id().to_string(),
                    event.stream().to_string(),
                    event.version().0 as i64,
                    event.recorded_at().to_string(),
                    event_json::to_cloud_event(event).to_string(),
                    flag
                ],
            )
            .unwrap();
        }
    }

    let marker = insert_marker(&path);

    let store = SqliteWriteStore::open(&path).unwrap();
    assert_marker_kept(&store, marker).await;
    assert_eq!(store.events().await.unwrap(), vec![published.clone(), waiting.clone()], "every event kept, in order");
    assert_eq!(store.unpublished(Timestamp::now(), 10).await.unwrap(), vec![waiting.clone()]);
    store.mark_published(&[EventRef::from(&waiting)]).await.unwrap();
    assert!(store.unpublished(Timestamp::now(), 10).await.unwrap().is_empty());
    drop(store);

    let reopened = SqliteWriteStore::open(&path).unwrap();
    assert_eq!(reopened.events().await.unwrap().len(), 2, "opening a current file migrates nothing");
    assert_marker_kept(&reopened, marker).await;
}

const VERSION_2_MARKERS: &str = "
CREATE TABLE markers (command_id TEXT PRIMARY KEY, stream TEXT NOT NULL, request_hash TEXT NOT NULL, response TEXT NOT NULL) WITHOUT ROWID;
PRAGMA user_version = 2;
";

#[tokio::test]
async fn a_version_2_file_keeps_its_markers_and_still_refuses_their_reuse() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("write.db");
    Connection::open(&path).unwrap().execute_batch(VERSION_2_MARKERS).unwrap();
    let marker = insert_marker(&path);

    let store = SqliteWriteStore::open(&path).unwrap();
    assert_marker_kept(&store, marker).await;
    let retry = Commit {
        stream: stream("store-1", "apple-pie"),
        expected: None,
        state: Aggregate::Item(ItemState {
            key: key("store-1", "apple-pie"),
            quantity: Quantity::new(5).unwrap().into(),
            version: Version(1),
            ..ItemState::empty(key("store-1", "apple-pie"))
        }),
        events: vec![stock("store-1", "apple-pie", 1, 5, 0)],
        outcome: CommandOutcome { command_id: marker, request_hash: "hash-1".into(), answer: None },
        transfer: None,
        ledger: LedgerChange::None,
        barcodes: Default::default(),
    };
    match store.commit(retry).await.unwrap() {
        CommitResult::Duplicate(original) => {
            assert_eq!(original.answer.map(|a| answer_json::encode(&a)).as_deref(), Some(RESPONSE))
        }
        other => panic!("a retry of a migrated command must be a duplicate, got {other:?}"),
    }
    assert!(store.events().await.unwrap().is_empty(), "the retry wrote nothing");
}

const VERSION_3: &str = "
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
    response TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS transfers (
    transfer_id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    created_at TEXT NOT NULL,
    body TEXT NOT NULL
) WITHOUT ROWID;
PRAGMA user_version = 3;
";

/// An item state as version 3 wrote it: `quantity` on hand, the latest count, the movements since it inline.
fn version_3_state(sku: &str, quantity: i64, counted: Option<Mark>, history: serde_json::Value) -> String {
    let state =
        ItemState { quantity: Stock(quantity), version: Version(3), counted, ..ItemState::empty(key("store-1", sku)) };
    let mut state = serde_json::to_value(Aggregate::Item(state)).unwrap();
    let fields = state.as_object_mut().unwrap();
    fields.remove("base");
    fields.insert("history".into(), history);
    state.to_string()
}

fn at(hour: u32) -> Timestamp {
    Timestamp::parse(&format!("2026-03-02T{hour:02}:00:00Z")).unwrap()
}

/// Decides a count record against `state` as the application does (summing what it names in the ledger).
async fn count_at(store: &SqliteWriteStore, state: &ItemState, quantity: u32, at: Timestamp) -> Stock {
    let meta = CommandMeta { occurred_at: Some(at), ..CommandMeta::default() };
    let action = Action::Count { item: state.key.clone(), quantity: Quantity::new(quantity).unwrap() };
    let command = Command { id: CommandId(uuid::Uuid::new_v4()), action, meta };
    let now = Timestamp::now();
    let stream = pieshop::domain::StreamId::Item(state.key.clone());
    let sum = match state.ledger_read(&command, now) {
        Some(read) => Some(store.ledger_sum(&stream, read).await.unwrap()),
        None => None,
    };
    state.decide(&command, now, sum).unwrap().0.quantity
}

#[tokio::test]
async fn a_version_3_file_moves_each_items_history_into_its_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("write.db");
    let counted = Mark { at: at(9), command: CommandId(uuid::Uuid::new_v4()) };
    let (ten, eleven) = (CommandId(uuid::Uuid::new_v4()), CommandId(uuid::Uuid::new_v4()));
    // Counted 10 at 09:00, then +5 at 10:00 and -3 at 11:00: 12 on hand. Another item never moved since a count.
    let history = serde_json::json!([[at(10), ten, 5], [at(11), eleven, -3]]);
    {
        let old = Connection::open(&path).unwrap();
        old.execute_batch(VERSION_3).unwrap();
        for (sku, state) in [
            ("apple-pie", version_3_state("apple-pie", 12, Some(counted), history)),
            ("pork-pie", version_3_state("pork-pie", 7, None, serde_json::json!([]))),
        ] {
            old.execute(
                "INSERT INTO streams (stream, version, state) VALUES (?1, 3, ?2)",
                params![stream("store-1", sku).to_string(), state],
            )
            .unwrap();
        }
        old.execute(
            "INSERT INTO markers (command_id, stream, request_hash, response) VALUES (?1, ?2, 'hash-1', ?3)",
            params![ten.0.as_bytes(), stream("store-1", "apple-pie").to_string(), RESPONSE],
        )
        .unwrap();
    }

    let store = SqliteWriteStore::open(&path).unwrap();
    assert_marker_kept(&store, ten).await;
    let load = |sku: &str| {
        let (store, stream) = (store.clone(), stream("store-1", sku));
        async move {
            match store.load(&stream).await.unwrap().unwrap().aggregate {
                Aggregate::Item(item) => item,
                other => panic!("{other:?}"),
            }
        }
    };
    let apple = load("apple-pie").await;
    assert_eq!((apple.quantity, apple.base, apple.counted), (Stock(12), 10, Some(counted)));
    assert_eq!(apple.ledger.map(|span| (span.first.at, span.last.at)), Some((at(10), at(11))));
    // 20 counted at 10:30 held 15 then (10 counted + 5 received): the 11:00 sale still follows it.
    let half_past_ten = at(10).plus(std::time::Duration::from_secs(1800));
    assert_eq!(count_at(&store, &apple, 20, half_past_ten).await, Stock(17));
    let pork = load("pork-pie").await;
    assert_eq!((pork.quantity, pork.base, pork.ledger), (Stock(7), 7, None));
    assert_eq!(count_at(&store, &pork, 4, at(8)).await, Stock(4));
}

/// A marker's answer as versions 1 and 2 wrote it.
const RESPONSE: &str = r#"{"commandId":"6f1b3c9e-3f4a-4a53-9a6e-0b7f1f0c2d11","events":["1c6d1f58-5a4e-5f7e-9c1e-3f1a2b3c4d5e"],"items":[{"location":"store-1","needsCount":false,"quantity":24,"sku":"apple-pie","version":1}],"status":"applied"}"#;

/// Writes a marker the way versions 1 and 2 did (text command id), returning its command id.
fn insert_marker(path: &std::path::Path) -> CommandId {
    let command = CommandId(uuid::Uuid::new_v4());
    Connection::open(path)
        .unwrap()
        .execute(
            "INSERT INTO markers (command_id, stream, request_hash, response) VALUES (?1, ?2, 'hash-1', ?3)",
            params![command.to_string(), stream("store-1", "apple-pie").to_string(), RESPONSE],
        )
        .unwrap();
    command
}

async fn assert_marker_kept(store: &SqliteWriteStore, command: CommandId) {
    let outcome = store
        .outcome(&stream("store-1", "apple-pie"), command)
        .await
        .unwrap()
        .expect("the marker survives the migration");
    assert_eq!(
        (outcome.command_id, outcome.request_hash.as_str(), outcome.answer.map(|a| answer_json::encode(&a)).as_deref()),
        (command, "hash-1", Some(RESPONSE))
    );
}

const READ_VERSION_0: &str = "
CREATE TABLE items (sku TEXT NOT NULL, location TEXT NOT NULL, quantity INTEGER NOT NULL, version INTEGER NOT NULL,
    updated_at TEXT NOT NULL, PRIMARY KEY (sku, location)) WITHOUT ROWID;
CREATE TABLE activity (seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, location TEXT, sku TEXT NOT NULL,
    recorded_at TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX activity_by_time ON activity (recorded_at);
";

/// A `read.db` from before schema version 1 (a unique index on the activity's event ids) keeps its log, and an
/// event it already logged is not logged again.
#[tokio::test]
async fn a_version_0_read_model_keeps_its_activity_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("read.db");
    let logged = stock("store-1", "apple-pie", 1, 10, 0);
    {
        let old = Connection::open(&path).unwrap();
        old.execute_batch(READ_VERSION_0).unwrap();
        old.execute(
            "INSERT INTO items (sku, location, quantity, version, updated_at) VALUES ('apple-pie', 'store-1', 10, 1, ?1)",
            params![logged.recorded_at().to_string()],
        )
        .unwrap();
        old.execute(
            "INSERT INTO activity (event_id, location, sku, recorded_at, body) VALUES (?1, 'store-1', 'apple-pie', ?2, ?3)",
            params![logged.id().to_string(), logged.recorded_at().to_string(), event_json::to_cloud_event_text(&logged)],
        )
        .unwrap();
    }

    let model = SqliteReadModel::open(&path).unwrap();
    assert_eq!(model.apply(&logged).await.unwrap(), Applied::Stale, "the item kept its version");
    let activity = model.activity(&ActivityQuery { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(activity, vec![logged], "the log kept its event, once");
    let check = Connection::open(&path).unwrap();
    let version: i64 = check.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    let unique_indexes: i64 = check
        .query_row("SELECT count(*) FROM pragma_index_list('activity') WHERE \"unique\"", [], |r| r.get(0))
        .unwrap();
    assert_eq!((version, unique_indexes), (2, 0), "migrated past version 1 (to 2): no unique index on the log");
}

/// A `read.db` of version 1 (no `type` column, an index on the instant alone) gets each logged event's type from
/// the event it stored, so the type filter and paging by position cover the history it already had.
#[tokio::test]
async fn a_version_1_read_model_filters_its_old_log_by_type() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("read.db");
    let received = stock("store-1", "apple-pie", 1, 10, 0);
    let Event::Stock(mut removal) = stock("store-1", "apple-pie", 2, 8, 1) else { unreachable!() };
    removal.kind = EventKind::StockRemoved;
    let removed = Event::Stock(removal);
    {
        let old = Connection::open(&path).unwrap();
        old.execute_batch(READ_VERSION_0).unwrap();
        old.execute_batch(
            "CREATE TABLE activity_v1 (seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL, location TEXT,
                sku TEXT NOT NULL, recorded_at TEXT NOT NULL, body TEXT NOT NULL);
             DROP TABLE activity; ALTER TABLE activity_v1 RENAME TO activity;
             CREATE INDEX activity_by_time ON activity (recorded_at); PRAGMA user_version = 1;",
        )
        .unwrap();
        for event in [&received, &removed] {
            old.execute(
                "INSERT INTO activity (event_id, location, sku, recorded_at, body) VALUES (?1, 'store-1', 'apple-pie', ?2, ?3)",
                params![event.id().to_string(), event.recorded_at().to_string(), event_json::to_cloud_event_text(event)],
            )
            .unwrap();
        }
    }

    let model = SqliteReadModel::open(&path).unwrap();
    let only = |kind| ActivityQuery { kinds: vec![kind], limit: 10, ..Default::default() };
    assert_eq!(model.activity(&only(EventKind::StockRemoved)).await.unwrap(), vec![removed.clone()]);
    assert_eq!(model.activity(&only(EventKind::StockReceived)).await.unwrap(), vec![received.clone()]);
    let older = ActivityQuery { before: Some(ActivityPosition::of(&removed)), limit: 10, ..Default::default() };
    assert_eq!(model.activity(&older).await.unwrap(), vec![received], "paged by position");
    let check = Connection::open(&path).unwrap();
    let version: i64 = check.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, 2);
}

/// A `read.db` written before locations existed lists them once opened: the table is added on open, and the
/// file's schema version is left alone (an older release can still open it).
#[tokio::test]
async fn a_read_model_from_before_locations_lists_them_once_opened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("read.db");
    Connection::open(&path).unwrap().execute_batch(READ_VERSION_0).unwrap();
    drop(SqliteReadModel::open(&path).unwrap());
    let before: i64 = Connection::open(&path).unwrap().query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    Connection::open(&path).unwrap().execute_batch("DROP TABLE locations").unwrap();
    let model = SqliteReadModel::open(&path).unwrap();
    let defined = crate::support::location("store-1", "High Street", false, 1);
    assert_eq!(model.apply(&defined).await.unwrap(), Applied::Applied);
    assert_eq!(model.locations().await.unwrap().len(), 1);
    let after: i64 = Connection::open(&path).unwrap().query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(after, before);
}
