//! The API suites' helpers: `spawn_app()` (the kit's in-process app, with the fault switches the guarantee tests
//! need), the real binary, and the requests and checks the suites share.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use pieshop::domain::{StreamId, UnknownLocations};
use pieshop::ports::WriteStore;
use pieshop::wiring::{self, AppSettings};
use pieshop_testkit::faults::{FaultyPublisher, FaultyStore};
use pieshop_testkit::process::embedded_command;
use pieshop_testkit::served::{Served, serve_with};
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;

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
    _served: Served,
}

/// Starts the app on 127.0.0.1:0 with a fresh data directory. The background relay is not started: tests
/// run relay passes themselves (`POST /relay`), so nothing happens behind their back.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(UnknownLocations::Allow).await
}

/// `spawn_app` under `PIESHOP_UNKNOWN_LOCATIONS=refuse`.
pub async fn spawn_app_refusing_unknown_locations() -> TestApp {
    spawn_app_with(UnknownLocations::Refuse).await
}

async fn spawn_app_with(unknown_locations: UnknownLocations) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut wiring = wiring::embedded(dir.path()).expect("embedded adapters");
    let publisher_down = Arc::new(AtomicBool::new(false));
    let failing_stream = Arc::new(Mutex::new(None));
    wiring.adapters.publisher =
        Arc::new(FaultyPublisher { inner: wiring.adapters.publisher.clone(), faults: publisher_down.clone() });
    wiring.adapters.write_store =
        Arc::new(FaultyStore { inner: wiring.adapters.write_store.clone(), hooks: failing_stream.clone() });
    let store = wiring.adapters.write_store.clone();
    let settings = AppSettings { unknown_locations, ..AppSettings::new(std::time::Duration::ZERO) };
    let served = serve_with(wiring, settings).await;
    TestApp {
        base: served.base.clone(),
        client: Client::new(),
        store,
        publisher_down,
        failing_stream,
        _dir: dir,
        _served: served,
    }
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
        crate::models::read_items(&self.client, &self.base).await
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

/// The real `handler` binary on the embedded default, whatever this shell exports (CI exports the engines).
pub fn handler_command() -> std::process::Command {
    embedded_command(env!("CARGO_BIN_EXE_handler"))
}

pub use pieshop_testkit::commands::{id, receive, remove};

/// A protocol fixture of the Functions host.
pub fn fixture(name: &str) -> Value {
    pieshop_testkit::fixtures::host(name)
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
