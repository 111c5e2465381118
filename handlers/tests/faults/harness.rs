//! The app on either wiring (embedded, or Cosmos emulator + Elasticsearch + Redis), with seeded fault dials
//! on the event publisher and on the projection's read model, and a client that speaks to it like a scanner,
//! the Functions host (`/projection`) and the timer (`/relay`) would.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::join_all;
use pieshop::adapters::elastic::{ElasticReadModel, ElasticSettings};
use pieshop::adapters::embedded::{InProcessCache, InProcessPublisher, SqliteReadModel, SqliteWriteStore};
use pieshop::adapters::redis::{RedisCache, RedisSettings};
use pieshop::application::changes::Changes;
use pieshop::application::operator;
use pieshop::application::projection::Projection;
use pieshop::domain::Timestamp;
use pieshop::ports::{Adapters, ReadModel, ResponseCache, WriteStore};
use pieshop_testkit::faults::{Fault, Faults, FaultyPublisher, FaultyReadModel};
use pieshop_testkit::served::{self, Served};
use rand::Rng;
use rand::rngs::StdRng;
use serde_json::{Value, json};

use crate::engines::engine;
use crate::ledger::{Expect, Ledger, Planned};
use crate::seed;

/// Which adapters the app is wired to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite write and read models, in-process cache.
    Embedded,
    /// Cosmos DB (the SDK's in-memory emulator), Elasticsearch and Redis from `ELASTICSEARCH_URL` / `REDIS_URL`.
    Azure,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Embedded => "embedded",
            Backend::Azure => "azure",
        }
    }

    /// A count scaled for the backend: every event applied to Elasticsearch waits for a refresh (~200 ms),
    /// so the Azure runs send fewer commands to stay quick.
    pub fn scaled(self, embedded: usize, azure: usize) -> usize {
        match self {
            Backend::Embedded => embedded,
            Backend::Azure => azure,
        }
    }
}

/// One scenario's identity: its name (the test filter that replays it) and default seed.
pub struct Scenario {
    pub name: &'static str,
    pub default_seed: u64,
}

/// A seeded fault dial: each call fails with the set probability (100: always, 0: never).
pub struct Dial {
    percent: AtomicU32,
    rng: Mutex<StdRng>,
    failures: AtomicU64,
}

impl Dial {
    fn new(rng: StdRng) -> Arc<Self> {
        Arc::new(Self { percent: AtomicU32::new(0), rng: Mutex::new(rng), failures: AtomicU64::new(0) })
    }

    pub fn set(&self, percent: u32) {
        self.percent.store(percent, Ordering::SeqCst);
    }

    /// Calls failed so far.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::SeqCst)
    }
}

impl Faults for Dial {
    /// Whether this call fails, and how: a full outage fails before doing anything; a partial one loses
    /// the answer after the work half of the time.
    fn next(&self) -> Fault {
        let percent = self.percent.load(Ordering::SeqCst);
        let mut rng = self.rng.lock().unwrap();
        if percent == 0 || !rng.random_ratio(percent.min(100), 100) {
            return Fault::None;
        }
        self.failures.fetch_add(1, Ordering::SeqCst);
        if percent < 100 && rng.random_bool(0.5) { Fault::After } else { Fault::Before }
    }
}

/// One answer to a command.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub replayed: bool,
    pub body: Value,
}

/// What one relay pass reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayPass {
    pub republished: usize,
    pub completed: usize,
    pub failing: usize,
}

/// The app serving on 127.0.0.1, with handles on its (fault-wrapped) adapters.
pub struct Harness {
    pub seed: u64,
    pub base: String,
    pub http: reqwest::Client,
    pub adapters: Adapters,
    /// Fails `publish` calls (the in-process delivery, as an Event Grid outage would).
    pub publisher_faults: Arc<Dial>,
    /// Fails `apply` calls of the projection's read model.
    pub projection_faults: Arc<Dial>,
    /// 503 answers the client retried.
    pub retried: AtomicU64,
    _dir: Option<tempfile::TempDir>,
    _served: Served,
}

/// The three adapters a backend provides (the publisher is always in-process delivery to the projection).
async fn adapters(
    backend: Backend,
) -> Option<(Arc<dyn WriteStore>, Arc<dyn ReadModel>, Arc<dyn ResponseCache>, Option<tempfile::TempDir>)> {
    match backend {
        Backend::Embedded => {
            let dir = tempfile::tempdir().unwrap();
            let store = Arc::new(SqliteWriteStore::open(&dir.path().join("write.db")).unwrap());
            let read_model = Arc::new(SqliteReadModel::open(&dir.path().join("read.db")).unwrap());
            Some((store, read_model, Arc::new(InProcessCache::default()), Some(dir)))
        }
        Backend::Azure => {
            let elastic = engine("ELASTICSEARCH_URL")?;
            let redis = engine("REDIS_URL")?;
            let prefix = format!("f{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
            let settings = ElasticSettings { url: elastic, api_key: None, index_prefix: prefix.clone() };
            let read_model = Arc::new(ElasticReadModel::connect(&settings).await.unwrap());
            // Keys of their own too, so that scenarios running at once never read each other's answers.
            let redis = RedisSettings {
                url: azure_core::credentials::Secret::new(redis),
                entra_username: None,
                namespace: prefix.clone(),
            };
            let cache = Arc::new(RedisCache::new(&redis, None).unwrap());
            Some((crate::cosmos_emulator::cosmos_store().await as Arc<dyn WriteStore>, read_model, cache, None))
        }
    }
}

/// The scenario's seed (printed), and the app on `backend` with both dials at 0; `None` (after printing
/// `SKIPPED:`) when the backend's engines are not configured.
pub async fn start(backend: Backend, scenario: &Scenario) -> Option<Harness> {
    let seed = seed::scenario_seed(scenario.name, backend.name(), scenario.default_seed);
    let (write_store, inner_read_model, cache, dir) = adapters(backend).await?;
    let publisher_faults = Dial::new(seed::rng(seed, 0xB0B));
    let projection_faults = Dial::new(seed::rng(seed, 0xFAB));
    let read_model: Arc<dyn ReadModel> =
        Arc::new(FaultyReadModel { inner: inner_read_model, faults: projection_faults.clone() });
    let projection = Arc::new(Projection::new(read_model.clone(), cache.clone(), Changes::default()));
    let delivery = Arc::new(InProcessPublisher::new(projection.clone()));
    let publisher = Arc::new(FaultyPublisher { inner: delivery, faults: publisher_faults.clone() });
    let adapters = Adapters { write_store, publisher, read_model, cache, backend: backend.name() };
    let served = served::serve(served::wiring(adapters.clone(), projection)).await;
    Some(Harness {
        seed,
        base: served.base.clone(),
        http: reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap(),
        adapters,
        publisher_faults,
        projection_faults,
        retried: AtomicU64::new(0),
        _dir: dir,
        _served: served,
    })
}

/// A protocol fixture of the Functions host.
pub fn fixture(name: &str) -> Value {
    pieshop_testkit::fixtures::host(name)
}

/// Whether the answer says `duplicate` (a replay) or `applied`.
pub fn status_of(answer: &Answer) -> &str {
    answer.body["status"].as_str().unwrap_or("")
}

/// The `items[0]` of an answer as (quantity, version).
pub fn first_item(answer: &Answer) -> (u32, u64) {
    let item = &answer.body["items"][0];
    (item["quantity"].as_u64().unwrap() as u32, item["version"].as_u64().unwrap())
}

impl Harness {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a command as a scanner does: a 503 (contention, an unavailable backend) is retried with the
    /// same body, hence the same `commandId`.
    pub async fn send(&self, body: &Value) -> Answer {
        for attempt in 1..=40u64 {
            let response = self.http.post(self.url("/api/commands")).json(body).send().await.expect("command answered");
            let status = response.status().as_u16();
            let replayed = response.headers().get("idempotent-replayed").is_some_and(|v| v == "true");
            let body_text = response.text().await.expect("answer body");
            if status == 503 {
                self.retried.fetch_add(1, Ordering::Relaxed);
                // A client's backoff before its retry (Retry-After, shortened), not a synchronisation.
                tokio::time::sleep(Duration::from_millis(5 * attempt)).await;
                continue;
            }
            let body = serde_json::from_str(&body_text)
                .unwrap_or_else(|_| panic!("{status} with a non-JSON body: {body_text}"));
            return Answer { status, replayed, body };
        }
        panic!("command still unavailable after 40 attempts: {body}");
    }

    /// Sends one wave of planned commands, all at once, each `copies[i]` times concurrently, and checks
    /// every answer against the model: exactly one copy of an applied command says `applied` (at the
    /// version the model computed), the others are replays; every copy of a refused one is refused.
    pub async fn send_wave(&self, planned: &[Planned], wave: &[usize], copies: &[usize]) {
        let sends = wave.iter().zip(copies).map(|(&index, &copies)| async move {
            let p = &planned[index];
            let body = p.cmd.body(&p.id);
            let answers = join_all((0..copies).map(|_| self.send(&body))).await;
            check_answers(p, &answers);
        });
        join_all(sends).await;
    }

    /// One relay pass through the `relay` route, as the timer trigger runs it.
    pub async fn relay(&self) -> RelayPass {
        let response = self.http.post(self.url("/relay")).json(&fixture("d-timer-request.json")).send().await.unwrap();
        assert_eq!(response.status(), 200, "relay pass");
        let envelope: Value = response.json().await.unwrap();
        let log = envelope["Logs"][0].as_str().unwrap_or_default().to_owned();
        let numbers: Vec<usize> = log.split(' ').filter_map(|w| w.parse().ok()).collect();
        let [republished, completed, failing] = numbers[..] else { panic!("unexpected relay log: {log}") };
        RelayPass { republished, completed, failing }
    }

    /// Events not yet marked published, and transfers whose second half is not yet known to be applied.
    pub async fn backlog(&self) -> (usize, usize) {
        let store = &self.adapters.write_store;
        let unpublished = store.unpublished(Timestamp::now(), 500).await.unwrap().len();
        let pending = store.pending_transfers(Timestamp::now(), 500).await.unwrap().len();
        (unpublished, pending)
    }

    /// Waits until the outbox is empty and no transfer is pending (failing at the deadline): first for what
    /// the commands' own publishes still have in flight (long-polling the read model for a change), and
    /// whenever a wait brings no progress, with a relay pass, as the timer would run one. Returns how many
    /// relay passes it took.
    pub async fn drain_outbox(&self) -> usize {
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut passes = 0;
        let mut backlog = self.backlog().await;
        while backlog != (0, 0) {
            assert!(
                Instant::now() < deadline,
                "relay never drained the outbox: {backlog:?} (unpublished, pending) left"
            );
            self.wait_for_change(Duration::from_secs(1)).await;
            let now = self.backlog().await;
            if now == backlog {
                self.relay().await;
                passes += 1;
                backlog = self.backlog().await;
            } else {
                backlog = now;
            }
        }
        passes
    }

    /// Returns as soon as the inventory answer changes, or after `timeout` (whole seconds).
    pub async fn wait_for_change(&self, timeout: Duration) {
        let path = "/api/inventory?limit=500";
        let response = self.http.get(self.url(path)).send().await.unwrap();
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        let wait = format!("{path}&waitForChange={etag}&timeout={}", timeout.as_secs().max(1));
        self.http.get(self.url(&wait)).send().await.unwrap();
    }

    /// Delivers one event to the `projection` route exactly as the Functions host hands over an Event Grid
    /// trigger (indented JSON, JSON-encoded twice), retrying failed invocations as Event Grid does.
    /// Returns how many invocations failed first.
    pub async fn deliver(&self, event: &Value) -> usize {
        let mut envelope = fixture("b-eventgrid-egschema-request.json");
        let indented = serde_json::to_string_pretty(event).unwrap();
        envelope["Data"]["eventGridEvent"] = json!(serde_json::to_string(&indented).unwrap());
        for failed in 0..200 {
            let response = self.http.post(self.url("/projection")).json(&envelope).send().await.unwrap();
            match response.status().as_u16() {
                200 => return failed,
                503 => continue,
                other => panic!("projection answered {other} to {event}"),
            }
        }
        panic!("projection failed 200 invocations in a row for {event}");
    }

    /// Every item stream of the write model as (stream, quantity, version).
    pub async fn write_items(&self) -> Vec<(String, i64, u64)> {
        crate::models::write_items(self.adapters.write_store.as_ref()).await
    }

    /// Every item of the read model through the API (cache in front) as (stream, quantity, version).
    pub async fn read_items(&self) -> Vec<(String, i64, u64)> {
        read_items(&self.http, &self.base).await
    }

    /// The scenario's end: no drift between the models, and both hold exactly what the model computed.
    pub async fn assert_converged(&self, ledger: &Ledger) {
        let verification = operator::verify(&self.adapters).await.expect("verify ran");
        let drift = &verification.drift;
        let listed: Vec<String> = drift.iter().map(ToString::to_string).collect();
        assert!(drift.is_empty(), "verify: {} difference(s) (seed {}):\n{}", drift.len(), self.seed, listed.join("\n"));
        assert!(verification.in_flight.is_empty(), "converged, nothing in flight: {:?}", verification.in_flight);
        let expected = ledger.items();
        assert_eq!(
            self.write_items().await,
            expected,
            "write model vs the stock computed from the commands (seed {})",
            self.seed
        );
        assert_eq!(
            self.read_items().await,
            expected,
            "read model (through the API) vs the computed stock (seed {})",
            self.seed
        );
        assert_eq!(
            summary_totals(&self.http, &self.base).await,
            nonzero(ledger.totals()),
            "totals per sku (seed {})",
            self.seed
        );
    }
}

fn check_answers(p: &Planned, answers: &[Answer]) {
    match p.expect {
        Expect::Applied { quantity, version } => {
            assert!(
                answers.iter().all(|a| a.status == 200),
                "{:?} {}: every copy must be accepted: {answers:?}",
                p.cmd,
                p.id
            );
            // The first copy says what it did (`applied`, or `adjusted` for a count); every other is a replay.
            let applied: Vec<&Answer> = answers.iter().filter(|a| status_of(a) != "duplicate").collect();
            assert_eq!(applied.len(), 1, "{:?} {}: applied exactly once: {answers:?}", p.cmd, p.id);
            assert!(!applied[0].replayed, "{answers:?}");
            assert_eq!(first_item(applied[0]), (quantity, version), "{:?} {}: answer vs the model", p.cmd, p.id);
            assert!(["applied", "adjusted"].contains(&status_of(applied[0])), "{answers:?}");
            for replay in answers.iter().filter(|a| status_of(a) == "duplicate") {
                assert!(replay.replayed, "{:?}: {replay:?}", p.cmd);
                assert_eq!(
                    first_item(replay),
                    (quantity, version),
                    "{:?} {}: a replay repeats the answer",
                    p.cmd,
                    p.id
                );
            }
            if answers[0].body.get("transferId").is_some() {
                assert_eq!(
                    applied[0].body["pending"], false,
                    "{:?}: nothing failed, so the transfer completed at once",
                    p.cmd
                );
            }
        }
        Expect::Refused { available } => {
            for answer in answers {
                assert_eq!(answer.status, 409, "{:?} {}: refused: {answer:?}", p.cmd, p.id);
                assert_eq!(answer.body["type"], "urn:pieshop:problem:insufficient-stock", "{answer:?}");
                assert_eq!(answer.body["available"], available, "{:?}: {answer:?}", p.cmd);
            }
        }
    }
}

/// Every item in the read model through `GET /api/inventory`, as (stream, quantity, version).
pub use crate::models::read_items;

/// Stock per sku from `GET /api/inventory/summary` (skus with stock only).
pub async fn summary_totals(http: &reqwest::Client, base: &str) -> BTreeMap<String, u64> {
    let body: Value = http.get(format!("{base}/api/inventory/summary")).send().await.unwrap().json().await.unwrap();
    let products = body["products"].as_array().unwrap_or_else(|| panic!("summary: {body}"));
    nonzero(products.iter().map(|p| (p["sku"].as_str().unwrap().to_owned(), p["total"].as_u64().unwrap())).collect())
}

fn nonzero(totals: BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    totals.into_iter().filter(|(_, total)| *total > 0).collect()
}
