//! Function keys on the standalone server: the real binary, bound to every address, refuses callers without a
//! configured key, lets the dashboard and health through, and never prints a key; on loopback with no keys it
//! is open; bound to every address with no keys it does not start.

use std::fs::File;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use pieshop_testkit::process;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::helpers::id;

const TILL_KEY: &str = "till-key-5c0f1e2d3a4b5c6d7e8f";
const MANAGER_KEY: &str = "manager+key/9a8b7c6d5e4f3a2b==";
const WRONG_KEY: &str = "till-key-5c0f1e2d3a4b5c6d7e8e";

/// The handler binary running standalone, its stdout and stderr captured to files, killed on drop.
pub(crate) struct Standalone {
    server: process::Standalone,
    pub(crate) dir: tempfile::TempDir,
}

impl Standalone {
    /// Starts the binary listening on `host:<free port>` with `keys` as `PIESHOP_API_KEYS` (none if `None`).
    pub(crate) fn start(host: &str, keys: Option<&str>) -> Self {
        Self::start_with(host, keys, &[])
    }

    /// As `start`, with more environment variables.
    pub(crate) fn start_with(host: &str, keys: Option<&str>, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut command = crate::helpers::handler_command();
        command
            .env("PIESHOP_DATA_DIR", dir.path().join("data"))
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(File::create(dir.path().join("stdout")).expect("stdout file"))
            .stderr(File::create(dir.path().join("stderr")).expect("stderr file"));
        if let Some(keys) = keys {
            command.env("PIESHOP_API_KEYS", keys);
        }
        command.envs(env.iter().copied());
        Self { server: process::Standalone::spawn(&mut command, host), dir }
    }

    /// Waits (with a deadline) until the server answers `GET /api/health`.
    pub(crate) async fn ready(self) -> Self {
        let ready = self.server.ready(Duration::from_secs(30)).await;
        assert!(ready, "handler never became ready; output:\n{}", self.output());
        self
    }

    /// Waits (with a deadline) for the process to exit on its own.
    async fn exit_status(&mut self) -> ExitStatus {
        let status = self.server.process.exited(Duration::from_secs(30)).await;
        status.unwrap_or_else(|| panic!("handler did not exit; output:\n{}", self.output()))
    }

    pub(crate) fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// Everything the process printed so far, stdout then stderr.
    fn output(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!("{}{}", read("stdout"), read("stderr"))
    }

    /// Stops the process and returns everything it printed, and its data directory.
    pub(crate) fn stop_keeping_data(mut self) -> (String, tempfile::TempDir) {
        self.server.process.kill();
        (self.output(), self.dir)
    }

    /// Stops the process and returns everything it printed.
    pub(crate) fn stop(mut self) -> String {
        self.server.process.kill();
        self.output()
    }
}

fn keys() -> String {
    format!("till-1={TILL_KEY},manager={MANAGER_KEY}")
}

fn receive() -> Value {
    json!({"commandId": id(), "type": "receive", "location": "store-1", "sku": "apple-pie", "quantity": 2})
}

fn with_code(path: &str, key: &str) -> String {
    let code: String = form_urlencoded::byte_serialize(key.as_bytes()).collect();
    let separator = if path.contains('?') { '&' } else { '?' };
    format!("{path}{separator}code={code}")
}

async fn assert_unauthorized(response: reqwest::Response, what: &str) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{what}");
    let content_type = response.headers()["content-type"].to_str().unwrap_or_default().to_owned();
    assert!(content_type.starts_with("application/problem+json"), "{what}: {content_type}");
    let body: Value = response.json().await.expect("problem body");
    assert_eq!(body["type"], "urn:pieshop:problem:unauthorized", "{what}");
}

/// Off loopback, every API route but health and the dashboard answers 401 without a valid key, and 200 with
/// one in the header or in `?code=`; the header decides when both are sent.
#[tokio::test]
async fn off_loopback_every_api_route_needs_a_key() {
    let server = Standalone::start("0.0.0.0", Some(&keys())).ready().await;
    let client = Client::new();
    // The OpenAPI document too, as in Azure, where it is a route of the key-guarded `query` function.
    let guarded_gets = [
        "/api/inventory",
        "/api/inventory/summary",
        "/api/inventory/store-1/apple-pie",
        "/api/activity",
        "/api/openapi.json",
    ];
    for path in guarded_gets {
        assert_unauthorized(client.get(server.url(path)).send().await.unwrap(), &format!("{path} without key")).await;
        let wrong = client.get(server.url(path)).header("x-functions-key", WRONG_KEY).send().await.unwrap();
        assert_unauthorized(wrong, &format!("{path} with a wrong header key")).await;
        let wrong = client.get(server.url(&with_code(path, WRONG_KEY))).send().await.unwrap();
        assert_unauthorized(wrong, &format!("{path} with a wrong ?code=")).await;
    }
    for path in ["/api/commands", "/api/commands/batch", "/projection", "/relay"] {
        let response = client.post(server.url(path)).json(&json!({})).send().await.unwrap();
        assert_unauthorized(response, &format!("POST {path} without key")).await;
    }
    // The key comes first: a wrong method on a guarded path is 401 without a key, 405 with one.
    let wrong_method = client.delete(server.url("/api/commands")).send().await.unwrap();
    assert_unauthorized(wrong_method, "DELETE /api/commands without key").await;
    let with_key = client.delete(server.url("/api/commands")).header("x-functions-key", TILL_KEY).send().await.unwrap();
    assert_eq!(with_key.status(), StatusCode::METHOD_NOT_ALLOWED, "a wrong method with a key");
    for path in ["/", "/api/dashboard", "/api/health"] {
        assert_eq!(client.get(server.url(path)).send().await.unwrap().status(), StatusCode::OK, "{path} is open");
    }

    let applied = client.post(server.url("/api/commands")).header("x-functions-key", TILL_KEY).json(&receive());
    assert_eq!(applied.send().await.unwrap().status(), StatusCode::OK, "command with header key");
    let applied = client.post(server.url(&with_code("/api/commands", MANAGER_KEY))).json(&receive());
    assert_eq!(applied.send().await.unwrap().status(), StatusCode::OK, "command with ?code=");
    let by_header =
        client.get(server.url("/api/inventory")).header("x-functions-key", MANAGER_KEY).send().await.unwrap();
    assert_eq!(by_header.status(), StatusCode::OK, "query with header key");
    let by_code = client.get(server.url(&with_code("/api/activity?limit=5", TILL_KEY))).send().await.unwrap();
    assert_eq!(by_code.status(), StatusCode::OK, "query with ?code=");
    let header_wins =
        client.get(server.url(&with_code("/api/inventory", TILL_KEY))).header("x-functions-key", WRONG_KEY);
    assert_unauthorized(header_wins.send().await.unwrap(), "a wrong header is not rescued by a right ?code=").await;
}

/// Keys used in headers, in `?code=` and at startup never reach the process's output, even at debug level.
#[tokio::test]
async fn keys_never_appear_in_the_output() {
    let server = Standalone::start("0.0.0.0", Some(&keys())).ready().await;
    let client = Client::new();
    for key in [TILL_KEY, MANAGER_KEY, WRONG_KEY] {
        let _ = client.get(server.url("/api/inventory")).header("x-functions-key", key).send().await.unwrap();
        let _ = client.get(server.url(&with_code("/api/inventory?lowStock=nope", key))).send().await.unwrap();
        let _ = client.post(server.url(&with_code("/api/commands", key))).json(&receive()).send().await.unwrap();
    }
    let output = server.stop();
    assert!(output.contains("till-1") && output.contains("/api/inventory"), "the run logged nothing?\n{output}");
    let encoded: String = form_urlencoded::byte_serialize(MANAGER_KEY.as_bytes()).collect();
    for secret in [TILL_KEY, MANAGER_KEY, WRONG_KEY, encoded.as_str()] {
        assert!(!output.contains(secret), "output contains a key:\n{output}");
    }
}

/// Bound to every address with no keys configured, the handler exits non-zero and says why.
#[tokio::test]
async fn off_loopback_without_keys_it_refuses_to_start() {
    let mut server = Standalone::start("0.0.0.0", None);
    let status = server.exit_status().await;
    assert!(!status.success(), "started without keys on 0.0.0.0");
    assert!(server.output().contains("PIESHOP_API_KEYS"), "no reason given:\n{}", server.output());
}

/// A malformed key list stops the handler without printing the entry (it may hold a key).
#[tokio::test]
async fn a_malformed_key_list_is_refused_without_echoing_it() {
    let mut server = Standalone::start("0.0.0.0", Some(&format!("till-1={TILL_KEY},manager=short-key")));
    assert!(!server.exit_status().await.success(), "started with a 9-character key");
    let output = server.output();
    assert!(output.contains("PIESHOP_API_KEYS entry 2"), "{output}");
    assert!(!output.contains(TILL_KEY) && !output.contains("short-key"), "output contains a key:\n{output}");
}

/// On loopback with no keys configured, the API is open as before.
#[tokio::test]
async fn on_loopback_without_keys_no_key_is_needed() {
    let server = Standalone::start("127.0.0.1", None).ready().await;
    let client = Client::new();
    let applied = client.post(server.url("/api/commands")).json(&receive()).send().await.unwrap();
    assert_eq!(applied.status(), StatusCode::OK);
    assert_eq!(client.get(server.url("/api/inventory")).send().await.unwrap().status(), StatusCode::OK);
}
