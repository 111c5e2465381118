//! A `write.db` written by schema version 1 (a `published` flag on every event) opens under version 2 (an
//! outbox table) without losing an event or the outbox's content.

use pieshop::adapters::embedded::SqliteWriteStore;
use pieshop::contract::event_json;
use pieshop::domain::Timestamp;
use pieshop::ports::WriteStore;
use pieshop::ports::write_store::EventRef;
use rusqlite::{Connection, params};

use crate::support::stock;

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

    let store = SqliteWriteStore::open(&path).unwrap();
    assert_eq!(store.events().await.unwrap(), vec![published.clone(), waiting.clone()], "every event kept, in order");
    assert_eq!(store.unpublished(Timestamp::now(), 10).await.unwrap(), vec![waiting.clone()]);
    store.mark_published(&[EventRef::from(&waiting)]).await.unwrap();
    assert!(store.unpublished(Timestamp::now(), 10).await.unwrap().is_empty());
    drop(store);

    let reopened = SqliteWriteStore::open(&path).unwrap();
    assert_eq!(reopened.events().await.unwrap().len(), 2, "opening a version-2 file migrates nothing");
}
