//! Files written by an older schema open under the current one without losing anything: a `write.db` of
//! version 1 (a `published` flag on every event) or 2 (markers keyed by their text command id) keeps its events,
//! outbox and markers.

use pieshop::adapters::embedded::SqliteWriteStore;
use pieshop::contract::event_json;
use pieshop::domain::{Aggregate, CommandId, ItemState, Quantity, Timestamp, Version};
use pieshop::ports::WriteStore;
use pieshop::ports::write_store::{CommandOutcome, Commit, CommitResult, EventRef};
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
        state: Aggregate::Item(ItemState { key: key("store-1", "apple-pie"), quantity: Quantity::new(5).unwrap(), version: Version(1) }),
        events: vec![stock("store-1", "apple-pie", 1, 5, 0)],
        outcome: CommandOutcome { command_id: marker, request_hash: "hash-1".into(), response: "{}".into() },
        transfer: None,
    };
    match store.commit(retry).await.unwrap() {
        CommitResult::Duplicate(original) => assert_eq!(original.response, RESPONSE),
        other => panic!("a retry of a migrated command must be a duplicate, got {other:?}"),
    }
    assert!(store.events().await.unwrap().is_empty(), "the retry wrote nothing");
}

const RESPONSE: &str = r#"{"status":"applied"}"#;

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
    let outcome = store.outcome(&stream("store-1", "apple-pie"), command).await.unwrap().expect("the marker survives the migration");
    assert_eq!((outcome.command_id, outcome.request_hash.as_str(), outcome.response.as_str()), (command, "hash-1", RESPONSE));
}
