//! The deployed shape for tests: `funchost` in front of handler instances that share the Cosmos SDK's emulator
//! (served over HTTP) and, where the engine is running, real Elasticsearch and Redis. Each test gets its own
//! funchost, index prefix, Redis namespace and keys; dropping the `Shape` kills funchost and its instances.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

pub use pieshop_testkit::engines::engine;
use pieshop_testkit::process::{Process, embedded_command};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

pub const MASTER: &str = "master-key-0123456789abcdef";
pub const HOST: &str = "host-key-0123456789abcdef";
pub const COMMAND: &str = "command-key-0123456789abcdef";
pub const QUERY: &str = "query-key-0123456789abcdef";

/// Which read model and cache the instances share.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub instances: usize,
    /// Elasticsearch as the read model (else each instance's embedded read model on one shared file).
    pub elasticsearch: Option<String>,
    pub redis: Option<String>,
    /// Extra funchost arguments (Event Grid disorder, retries).
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// The app root (default: this repository's `host.json` and `functions/`).
    pub app: Option<PathBuf>,
}

pub struct Shape {
    pub base: String,
    pub client: Client,
    /// funchost leads its own process group: dropped, the instances go with it.
    _funchost: Process,
    _state: tempfile::TempDir,
}

/// This repository's app root.
pub fn repository_app() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn binary(name: &str) -> PathBuf {
    let funchost = PathBuf::from(env!("CARGO_BIN_EXE_funchost"));
    let path = funchost.with_file_name(name);
    assert!(path.exists(), "{} is missing: build it with `cargo build -p pieshop`", path.display());
    path
}

impl Shape {
    pub async fn start(options: Options) -> Shape {
        let state = tempfile::tempdir().unwrap();
        let keys = json!({"masterKey": MASTER, "hostKeys": {"default": HOST},
                          "functionKeys": {"command": {"till-1": COMMAND}, "query": {"wall": QUERY}}});
        let keys_file = state.path().join("keys.json");
        std::fs::write(&keys_file, keys.to_string()).unwrap();
        let root = options.app.clone().unwrap_or_else(repository_app);
        let mut command = embedded_command(env!("CARGO_BIN_EXE_funchost"));
        command
            .args(["--app", root.to_str().unwrap(), "--listen", "127.0.0.1:0"])
            .args(["--instances", &options.instances.max(1).to_string(), "--cosmos-emulator"])
            .args(["--keys", keys_file.to_str().unwrap(), "--state-dir", state.path().to_str().unwrap()])
            .args(["--timer-period-ms", "0"])
            .args(&options.args)
            .arg("--handler")
            .arg(binary("handler"))
            .env("RUST_LOG", "warn")
            .env("FUNCHOST_LOG", "warn")
            .env("PIESHOP_RELAY_MIN_AGE_MS", "0")
            .stdin(Stdio::null())
            .env_remove("PIESHOP_DATA_DIR");
        let namespace = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        if let Some(url) = &options.elasticsearch {
            command.env("ELASTICSEARCH_URL", url).env("ELASTICSEARCH_INDEX_PREFIX", &namespace);
        }
        if let Some(url) = &options.redis {
            command.env("REDIS_URL", url).env("REDIS_KEY_PREFIX", &namespace);
        }
        command.envs(options.env.iter().map(|(k, v)| (k, v)));
        let mut funchost = Process::spawn_group(&mut command);
        // funchost binds a free port itself and writes its address once every instance is ready (no port race).
        let front_door = state.path().join("front-door");
        let deadline = Instant::now() + Duration::from_secs(90);
        let base = loop {
            if let Ok(base) = std::fs::read_to_string(&front_door) {
                break base;
            }
            assert!(funchost.child().try_wait().unwrap().is_none(), "funchost exited before it was ready");
            assert!(Instant::now() < deadline, "funchost and its instances never became ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        Shape { base, client: Client::new(), _funchost: funchost, _state: state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn dead_letter_dir(&self) -> PathBuf {
        self._state.path().join("deadletter")
    }

    /// The instances' shared embedded data (the read model, when Elasticsearch is not used).
    pub fn data_dir(&self) -> PathBuf {
        self._state.path().join("data")
    }

    /// A command with the host key, optionally pinned to one instance.
    pub async fn command(&self, body: &Value, instance: Option<usize>) -> Response {
        let mut request = self.client.post(self.url("/api/commands")).header("x-functions-key", HOST).json(body);
        if let Some(instance) = instance {
            request = request.header("x-funchost-instance", instance);
        }
        request.send().await.expect("funchost answers")
    }

    /// A query with the query key, on one instance, optionally conditional.
    pub async fn get(&self, path: &str, instance: usize, if_none_match: Option<&str>) -> Response {
        let mut request =
            self.client.get(self.url(path)).header("x-functions-key", QUERY).header("x-funchost-instance", instance);
        if let Some(etag) = if_none_match {
            request = request.header("if-none-match", etag);
        }
        request.send().await.expect("funchost answers")
    }

    /// Every event Event Grid was given and what became of it.
    pub async fn events(&self) -> Vec<Value> {
        self.client.get(self.url("/funchost/events")).send().await.unwrap().json().await.unwrap()
    }

    /// Waits until every one of `ids` was acknowledged by a projection.
    pub async fn wait_acknowledged(&self, ids: &[String]) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let events = self.events().await;
            let acknowledged =
                |id: &String| events.iter().any(|e| &e["id"] == id && e["acknowledged"].as_u64() > Some(0));
            if ids.iter().all(acknowledged) {
                return;
            }
            assert!(Instant::now() < deadline, "events never acknowledged: {ids:?} in {events:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Runs the `relay` timer function now through the host's admin API.
    pub async fn relay(&self) {
        let response = self
            .client
            .post(self.url("/admin/functions/relay"))
            .header("x-functions-key", MASTER)
            .json(&json!({"input": ""}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED, "{:?}", response.text().await);
    }

    pub async fn kill(&self, instance: usize) {
        let url = self.url(&format!("/funchost/instances/{instance}/kill"));
        let response = self.client.post(url).header("x-functions-key", MASTER).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }

    pub async fn instances(&self) -> Vec<Value> {
        self.client.get(self.url("/funchost/instances")).send().await.unwrap().json().await.unwrap()
    }
}

pub use pieshop_testkit::commands::{id, receive};
