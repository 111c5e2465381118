//! Who did it, under the host (`docs/protocol/caller-identity.md`): in the proxied and forwarded modes the
//! deployed app uses, the host checks the key and passes it on as it came, but nothing about which key matched,
//! so a command has no `caller` and the key's value is stored nowhere; behind Easy Auth the principal the
//! platform signed in is the caller, and a client's own principal headers are stripped; without Easy Auth those
//! headers reach the handler, which does not believe them. Each case runs in both HTTP modes.

// The deployed-shape harness, shared with deployed.rs (which uses all of it).
#[allow(dead_code, unused_imports)]
mod shape;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use shape::{COMMAND, HOST, Options, QUERY, Shape, receive};

async fn start(easy_auth: bool, forwarding: bool) -> Shape {
    let env = vec![
        ("FUNCHOST_EASY_AUTH".into(), easy_auth.to_string()),
        ("FUNCHOST_HOST_WITHOUT_PROXYING".into(), forwarding.to_string()),
    ];
    Shape::start(Options { instances: 1, env, ..Default::default() }).await
}

/// Sends a receive with the command key and these extra headers; the activity entry it made once projected.
async fn sent_with(shape: &Shape, headers: &[(&str, &str)]) -> Value {
    let body = receive("store-1", "apple-pie", 1);
    let mut request = shape.client.post(shape.url("/api/commands")).header("x-functions-key", COMMAND).json(&body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    let event = answer["events"][0].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let activity: Value = shape.get("/api/activity?limit=100", 0, None).await.json().await.unwrap();
        if let Some(entry) = activity["events"].as_array().unwrap().iter().find(|e| e["eventId"] == event) {
            return entry.clone();
        }
        assert!(Instant::now() < deadline, "{event} never reached the activity log");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn the_host_passes_no_key_name_and_the_handler_keeps_no_key(forwarding: bool) {
    let shape = start(false, forwarding).await;
    let entry = sent_with(&shape, &[]).await;
    assert_eq!(entry["caller"], Value::Null, "the host does not say which key matched: {entry}");
    let text = entry.to_string();
    for key in [COMMAND, HOST, QUERY] {
        assert!(!text.contains(key), "a key value in the activity: {text}");
    }
}

async fn without_easy_auth_a_clients_principal_headers_are_not_believed(forwarding: bool) {
    let shape = start(false, forwarding).await;
    let forged = [("x-ms-client-principal-name", "mallory@example.com"), ("x-funchost-principal", "mallory")];
    let entry = sent_with(&shape, &forged).await;
    assert_eq!(entry["caller"], Value::Null, "{entry}");
}

async fn behind_easy_auth_the_signed_in_principal_is_the_caller(forwarding: bool) {
    let shape = start(true, forwarding).await;
    let signed_in = sent_with(&shape, &[("x-funchost-principal", "dana@pieshop.example")]).await;
    assert_eq!(signed_in["caller"], "dana@pieshop.example", "{signed_in}");
    let forged = sent_with(&shape, &[("x-ms-client-principal-name", "mallory@example.com")]).await;
    assert_eq!(forged["caller"], Value::Null, "the platform strips a client's own principal headers: {forged}");
    let both = [("x-funchost-principal", "dana@pieshop.example"), ("x-ms-client-principal-name", "mallory")];
    assert_eq!(sent_with(&shape, &both).await["caller"], "dana@pieshop.example");
}

#[tokio::test]
async fn proxied_the_host_passes_no_key_name_and_the_handler_keeps_no_key() {
    the_host_passes_no_key_name_and_the_handler_keeps_no_key(false).await;
}

#[tokio::test]
async fn forwarded_the_host_passes_no_key_name_and_the_handler_keeps_no_key() {
    the_host_passes_no_key_name_and_the_handler_keeps_no_key(true).await;
}

#[tokio::test]
async fn proxied_without_easy_auth_a_clients_principal_headers_are_not_believed() {
    without_easy_auth_a_clients_principal_headers_are_not_believed(false).await;
}

#[tokio::test]
async fn forwarded_without_easy_auth_a_clients_principal_headers_are_not_believed() {
    without_easy_auth_a_clients_principal_headers_are_not_believed(true).await;
}

#[tokio::test]
async fn proxied_behind_easy_auth_the_signed_in_principal_is_the_caller() {
    behind_easy_auth_the_signed_in_principal_is_the_caller(false).await;
}

#[tokio::test]
async fn forwarded_behind_easy_auth_the_signed_in_principal_is_the_caller() {
    behind_easy_auth_the_signed_in_principal_is_the_caller(true).await;
}
