//! Shared test helpers: `spawn_app()` and the fault-injecting wrappers the guarantee tests need.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use pieshop::domain::{Aggregate, CommandId, Event, LedgerRead, PendingTransfer, StreamId, Timestamp, TransferId};
use pieshop::ports::write_store::{CommandOutcome, Commit, CommitResult, EventRef, Snapshot};
use pieshop::ports::{
    CommandStore, EventPublisher, Outbox, PublishError, Replay, Retention, StoreError, Transfers, WriteStore,
};
use pieshop::wiring;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// A running server with handles on its adapters.
pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub store: Arc<dyn WriteStore>,
    /// While set, every publish fails (as an Event Grid outage would).
    pub publisher_down: Arc<AtomicBool>,
    /// Commits to this stream fail as unavailable while set.
    pub failing_stream: Arc<Mutex<Option<StreamId>>>,
    _dir: tempfile::TempDir,
    _shutdown: oneshot::Sender<()>,
}

/// Starts the app on 127.0.0.1:0 with a fresh data directory. The background relay is not started: tests
/// run relay passes themselves (`POST /relay`), so nothing happens behind their back.
pub async fn spawn_app() -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut wiring = wiring::embedded(dir.path()).expect("embedded adapters");
    let publisher_down = Arc::new(AtomicBool::new(false));
    let failing_stream = Arc::new(Mutex::new(None));
    wiring.adapters.publisher =
        Arc::new(SwitchablePublisher { inner: wiring.adapters.publisher.clone(), down: publisher_down.clone() });
    wiring.adapters.write_store =
        Arc::new(FaultyStore { inner: wiring.adapters.write_store.clone(), failing: failing_stream.clone() });
    let store = wiring.adapters.write_store.clone();
    let app = wiring.app(Duration::ZERO);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(wiring::serve(listener, app, async move {
        let _ = rx.await;
    }));
    TestApp { base, client: Client::new(), store, publisher_down, failing_stream, _dir: dir, _shutdown: tx }
}

impl TestApp {
    /// The data directory the app's databases live in.
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client.post(self.url(path)).json(body).send().await.expect("request")
    }

    pub async fn command(&self, body: Value) -> Response {
        self.post_json("/api/commands", &body).await
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("request")
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.expect("json")
    }

    /// Runs one relay pass through the real `relay` route, as the timer trigger would.
    pub async fn relay(&self) -> Value {
        let response = self.post_json("/relay", &fixture("d-timer-request.json")).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("envelope")
    }

    /// Waits (polling, with a deadline) until the read model shows the item at `version`.
    pub async fn wait_for_item(&self, location: &str, sku: &str, version: u64) -> Value {
        let path = format!("/api/inventory/{location}/{sku}?minVersion={version}&timeout=10");
        let response = self.get(&path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert!(response.headers().get("x-stale").is_none(), "read model never reached v{version} of {location}/{sku}");
        response.json().await.expect("json")
    }

    /// Every item stream in the write model as (stream, quantity, version).
    pub async fn write_items(&self) -> Vec<(String, i64, u64)> {
        crate::models::write_items(self.store.as_ref()).await
    }

    /// Every item in the read model, through the API, as (stream, quantity, version).
    pub async fn read_items(&self) -> Vec<(String, i64, u64)> {
        let body = self.get_json("/api/inventory?limit=500").await;
        let mut items: Vec<_> = body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| {
                (
                    format!("{}/{}", i["location"].as_str().unwrap(), i["sku"].as_str().unwrap()),
                    i["quantity"].as_i64().unwrap(),
                    i["version"].as_u64().unwrap(),
                )
            })
            .collect();
        items.sort();
        items
    }

    /// Events committed so far.
    pub async fn event_count(&self) -> usize {
        self.store.events().await.expect("events").len()
    }
}

/// Long-polls `path` until `check` holds (bounded by a deadline).
pub async fn wait_until(app: &TestApp, path: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let response = app.get(path).await;
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        let body: Value = response.json().await.unwrap();
        if check(&body) {
            return body;
        }
        assert!(std::time::Instant::now() < deadline, "condition never held on {path}: {body}");
        let separator = if path.contains('?') { '&' } else { '?' };
        app.get(&format!("{path}{separator}waitForChange={etag}&timeout=2")).await;
    }
}

/// Every variable that switches a port to an Azure adapter (see `config::azure`).
const AZURE_VARIABLES: [&str; 6] = [
    "COSMOS_ENDPOINT",
    "EVENTGRID_TOPIC_ENDPOINT",
    "ELASTICSEARCH_URL",
    "REDIS_URL",
    "REDIS_USERNAME",
    "PIESHOP_API_KEYS",
];

/// The real `handler` binary on the embedded default, whatever this shell exports (CI exports the engines).
pub fn handler_command() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_handler"));
    for variable in AZURE_VARIABLES {
        command.env_remove(variable);
    }
    command
}

/// A fresh command id.
pub fn id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn receive(location: &str, sku: &str, quantity: u64) -> Value {
    json!({"commandId": id(), "type": "receive", "location": location, "sku": sku, "quantity": quantity})
}

pub fn remove(location: &str, sku: &str, quantity: u64) -> Value {
    json!({"commandId": id(), "type": "remove", "location": location, "sku": sku, "quantity": quantity, "reason": "sold"})
}

/// A protocol fixture (copied from the shared protocol notes).
pub fn fixture(name: &str) -> Value {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "fixtures", "host", name].iter().collect();
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("fixture json")
}

/// Asserts a problem+json answer with this status and slug, and returns its body.
pub async fn expect_problem(response: Response, status: u16, slug: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    let body: Value = response.json().await.expect("problem json");
    assert_eq!(body["type"], format!("urn:pieshop:problem:{slug}"), "{body}");
    assert_eq!(body["status"], status);
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()), "a detail says what is wrong: {body}");
    body
}

/// Publishes through the real in-process publisher unless switched down.
struct SwitchablePublisher {
    inner: Arc<dyn EventPublisher>,
    down: Arc<AtomicBool>,
}

#[async_trait]
impl EventPublisher for SwitchablePublisher {
    async fn publish(&self, events: &[Event]) -> Result<(), PublishError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(PublishError::Unavailable("switched down by the test".into()));
        }
        self.inner.publish(events).await
    }
}

/// The real store, except that commits to one chosen stream fail as unavailable.
struct FaultyStore {
    inner: Arc<dyn WriteStore>,
    failing: Arc<Mutex<Option<StreamId>>>,
}

#[async_trait]
impl CommandStore for FaultyStore {
    async fn load(&self, stream: &StreamId) -> Result<Option<Snapshot>, StoreError> {
        self.inner.load(stream).await
    }

    fn forget(&self, stream: &StreamId) {
        self.inner.forget(stream)
    }

    async fn outcome(&self, stream: &StreamId, command: CommandId) -> Result<Option<CommandOutcome>, StoreError> {
        self.inner.outcome(stream, command).await
    }

    async fn commit(&self, commit: Commit) -> Result<CommitResult, StoreError> {
        if self.failing.lock().unwrap().as_ref() == Some(&commit.stream) {
            return Err(StoreError::Unavailable("injected by the test".into()));
        }
        self.inner.commit(commit).await
    }

    async fn ledger_sum(&self, stream: &StreamId, read: LedgerRead) -> Result<i64, StoreError> {
        self.inner.ledger_sum(stream, read).await
    }
}

#[async_trait]
impl Outbox for FaultyStore {
    async fn unpublished(&self, before: Timestamp, limit: usize) -> Result<Vec<Event>, StoreError> {
        self.inner.unpublished(before, limit).await
    }

    async fn mark_published(&self, events: &[EventRef]) -> Result<(), StoreError> {
        self.inner.mark_published(events).await
    }
}

#[async_trait]
impl Transfers for FaultyStore {
    async fn pending_transfers(&self, before: Timestamp, limit: usize) -> Result<Vec<PendingTransfer>, StoreError> {
        self.inner.pending_transfers(before, limit).await
    }

    async fn finish_transfer(&self, source: &StreamId, transfer: TransferId) -> Result<(), StoreError> {
        self.inner.finish_transfer(source, transfer).await
    }
}

#[async_trait]
impl Replay for FaultyStore {
    async fn aggregates(&self) -> Result<Vec<Aggregate>, StoreError> {
        self.inner.aggregates().await
    }

    async fn events(&self) -> Result<Vec<Event>, StoreError> {
        self.inner.events().await
    }
}

#[async_trait]
impl Retention for FaultyStore {
    async fn expire_markers(&self, before: Timestamp, limit: usize) -> Result<usize, StoreError> {
        self.inner.expire_markers(before, limit).await
    }
}
