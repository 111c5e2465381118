//! Who did it (API 1.2): standalone, the name of the `PIESHOP_API_KEYS` key that authorised a command is its
//! `caller`, on its events and on their activity entries; without keys there is none; a body cannot claim one;
//! a replay under another key keeps the first; the platform's Easy Auth headers are never trusted standalone;
//! and no key's value reaches the logs or the databases. (Under the host: `tools/funchost/tests/deployed.rs`.)

use std::time::Duration;

use pieshop::domain::Event;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::auth::Standalone;
use crate::helpers::{expect_problem, id};

const TILL_KEY: &str = "till-key-7d1e2f3a4b5c6d7e8f90";
const MANAGER_KEY: &str = "manager+key/0a9b8c7d6e5f4a3b==";

fn keys() -> String {
    format!("till-1={TILL_KEY},manager={MANAGER_KEY}")
}

async fn post(server: &Standalone, key: Option<&str>, path: &str, body: &Value) -> reqwest::Response {
    let mut request = Client::new().post(server.url(path)).json(body);
    if let Some(key) = key {
        request = request.header("x-functions-key", key);
    }
    request.send().await.unwrap()
}

/// The activity log once it holds at least `count` entries (the projection is in-process but asynchronous).
async fn activity(server: &Standalone, key: Option<&str>, count: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut request = Client::new().get(server.url("/api/activity?limit=100"));
        if let Some(key) = key {
            request = request.header("x-functions-key", key);
        }
        let body: Value = request.send().await.unwrap().json().await.unwrap();
        let events = body["events"].as_array().cloned().unwrap_or_default();
        if events.len() >= count {
            return events;
        }
        assert!(std::time::Instant::now() < deadline, "activity never reached {count}: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every event the stopped server's write store holds.
async fn stored_events(dir: &std::path::Path) -> Vec<Event> {
    let wiring = pieshop::wiring::embedded(&dir.join("data")).expect("the data directory opens");
    wiring.adapters.write_store.events().await.expect("events")
}

fn caller_of(event: &Event) -> Option<String> {
    match event {
        Event::Stock(e) => e.caller.as_ref().map(ToString::to_string),
        Event::Product(e) => e.caller.as_ref().map(ToString::to_string),
        Event::Location(e) => e.caller.as_ref().map(ToString::to_string),
    }
}

fn callers_by_type(entries: &[Value]) -> Vec<(String, Value)> {
    let mut callers: Vec<_> =
        entries.iter().map(|e| (e["type"].as_str().unwrap().to_owned(), e["caller"].clone())).collect();
    callers.sort_by(|a, b| a.0.cmp(&b.0));
    callers
}

/// Two keys: each command's events and activity entries carry the name of the key that sent it (a transfer's
/// second half included), whether the key came as the header or as `?code=`; and neither key's value is in the
/// output (at debug level) or anywhere in the databases' files.
#[tokio::test]
async fn each_key_names_the_caller_of_what_it_sent_and_no_key_is_kept() {
    let server = Standalone::start_with("127.0.0.1", Some(&keys()), &[("RUST_LOG", "debug")]).ready().await;
    let receive =
        json!({"commandId": id(), "type": "receive", "location": "store-1", "sku": "apple-pie", "quantity": 5});
    assert_eq!(post(&server, Some(TILL_KEY), "/api/commands", &receive).await.status(), StatusCode::OK);
    let define = json!({"commandId": id(), "type": "defineProduct", "sku": "apple-pie", "name": "Apple pie"});
    let code: String = form_urlencoded::byte_serialize(MANAGER_KEY.as_bytes()).collect();
    let by_code = post(&server, None, &format!("/api/commands?code={code}"), &define).await;
    assert_eq!(by_code.status(), StatusCode::OK);
    let transfer = json!({"commandId": id(), "type": "transfer", "from": "store-1", "to": "van", "sku": "apple-pie",
        "quantity": 2});
    let batch = json!({"commands": [transfer]});
    assert_eq!(post(&server, Some(MANAGER_KEY), "/api/commands/batch", &batch).await.status(), StatusCode::OK);

    let entries = activity(&server, Some(TILL_KEY), 4).await;
    assert_eq!(
        callers_by_type(&entries),
        [
            ("pieshop.ProductDefined".into(), json!("manager")),
            ("pieshop.StockReceived".into(), json!("till-1")),
            ("pieshop.TransferredIn".into(), json!("manager")),
            ("pieshop.TransferredOut".into(), json!("manager")),
        ]
    );
    for entry in &entries {
        assert_eq!(entry["scannerId"], Value::Null, "scannerId stays the scanner's: {entry}");
    }

    let (output, dir) = server.stop_keeping_data();
    let events = stored_events(dir.path()).await;
    assert_eq!(events.len(), 4);
    let mut callers: Vec<_> = events.iter().map(caller_of).collect();
    callers.sort();
    assert_eq!(
        callers,
        [Some("manager".into()), Some("manager".into()), Some("manager".into()), Some("till-1".into())]
    );

    assert!(output.contains("till-1"), "the run logged nothing?\n{output}");
    let mut files = Vec::new();
    for entry in walk(dir.path()) {
        files.push((entry.display().to_string(), std::fs::read(&entry).unwrap()));
    }
    assert!(
        files.iter().any(|(name, _)| name.ends_with("write.db")),
        "{:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for secret in [TILL_KEY, MANAGER_KEY, code.as_str()] {
        assert!(!output.contains(secret), "the output holds a key:\n{output}");
        for (name, bytes) in &files {
            let found = bytes.windows(secret.len()).any(|window| window == secret.as_bytes());
            assert!(!found, "{name} holds a key");
        }
    }
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Without keys nobody is verified: events carry no `caller` and activity entries say null.
#[tokio::test]
async fn without_keys_there_is_no_caller() {
    let server = Standalone::start("127.0.0.1", None).ready().await;
    let receive = json!({"commandId": id(), "type": "receive", "location": "store-1", "sku": "apple-pie", "quantity": 1,
        "scannerId": "till-1"});
    assert_eq!(post(&server, None, "/api/commands", &receive).await.status(), StatusCode::OK);
    let entries = activity(&server, None, 1).await;
    assert_eq!(entries[0]["caller"], Value::Null, "{}", entries[0]);
    assert_eq!(entries[0]["scannerId"], "till-1");
    let (_, dir) = server.stop_keeping_data();
    let events = stored_events(dir.path()).await;
    assert_eq!(events.iter().map(caller_of).collect::<Vec<_>>(), [None]);
}

/// A body cannot say who sent it: `caller` is an unknown field (400, nothing stored), alone or in a batch.
#[tokio::test]
async fn a_caller_in_the_body_is_refused() {
    let server = Standalone::start("127.0.0.1", Some(&keys())).ready().await;
    let forged = json!({"commandId": id(), "type": "receive", "location": "store-1", "sku": "apple-pie", "quantity": 1,
        "caller": "manager"});
    let body =
        expect_problem(post(&server, Some(TILL_KEY), "/api/commands", &forged).await, 400, "invalid-request").await;
    assert_eq!(body["errors"][0]["field"], "caller", "{body}");
    let batch = json!({"commands": [forged]});
    let answer: Value = post(&server, Some(TILL_KEY), "/api/commands/batch", &batch).await.json().await.unwrap();
    assert_eq!(answer["results"][0]["status"], "rejected", "{answer}");
    assert_eq!(answer["results"][0]["problem"]["errors"][0]["field"], "commands[0].caller", "{answer}");
    let (_, dir) = server.stop_keeping_data();
    assert!(stored_events(dir.path()).await.is_empty());
}

/// The same command again under another key is a replay of the first: `duplicate`, nothing new stored, and
/// the events keep the caller who sent it first.
#[tokio::test]
async fn a_replay_under_another_key_keeps_the_first_caller() {
    let server = Standalone::start("127.0.0.1", Some(&keys())).ready().await;
    let receive =
        json!({"commandId": id(), "type": "receive", "location": "store-1", "sku": "apple-pie", "quantity": 3});
    let first: Value = post(&server, Some(TILL_KEY), "/api/commands", &receive).await.json().await.unwrap();
    let again = post(&server, Some(MANAGER_KEY), "/api/commands", &receive).await;
    assert_eq!(again.headers().get("idempotent-replayed").map(|v| v.to_str().unwrap()), Some("true"));
    let again: Value = again.json().await.unwrap();
    assert_eq!((first["status"].clone(), again["status"].clone()), (json!("applied"), json!("duplicate")));
    assert_eq!(first["events"], again["events"]);
    let entries = activity(&server, Some(MANAGER_KEY), 1).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["caller"], "till-1");
    let (_, dir) = server.stop_keeping_data();
    assert_eq!(stored_events(dir.path()).await.iter().map(caller_of).collect::<Vec<_>>(), [Some("till-1".into())]);
}

/// Standalone there is no platform in front to strip a client's own `X-MS-CLIENT-PRINCIPAL-*` headers, so they
/// are ignored even with `WEBSITE_AUTH_ENABLED` set: the key decides.
#[tokio::test]
async fn standalone_the_easy_auth_headers_are_never_trusted() {
    let env = [("WEBSITE_AUTH_ENABLED", "True")];
    let server = Standalone::start_with("127.0.0.1", Some(&keys()), &env).ready().await;
    let receive =
        json!({"commandId": id(), "type": "receive", "location": "store-1", "sku": "apple-pie", "quantity": 1});
    let forged = Client::new()
        .post(server.url("/api/commands"))
        .header("x-functions-key", TILL_KEY)
        .header("x-ms-client-principal-name", "mallory@example.com")
        .json(&receive);
    assert_eq!(forged.send().await.unwrap().status(), StatusCode::OK);
    let entries = activity(&server, Some(TILL_KEY), 1).await;
    assert_eq!(entries[0]["caller"], "till-1", "{}", entries[0]);
}
