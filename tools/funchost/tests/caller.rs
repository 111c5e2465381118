//! Who did it, under the host (`docs/protocol/caller-identity.md`): in the proxied and forwarded modes the
//! deployed app uses, the host checks the key and passes it on as it came, but nothing about which key matched,
//! so a command has no `caller` and the key's value is stored nowhere; behind Easy Auth the principal the
//! platform signed in is the caller, and a client's own principal headers are stripped; without Easy Auth those
//! headers reach the handler, which does not believe them. Each case runs in both HTTP modes. In the default
//! (envelope) protocol, which the deployed host.json does not use, the host names the key that matched, and
//! that name is the caller.

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

/// The repository's app with host.json asking for neither proxying nor forwarding: the default protocol.
fn envelope_app() -> tempfile::TempDir {
    let repository = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let app = tempfile::tempdir().unwrap();
    let mut host: Value =
        serde_json::from_str(&std::fs::read_to_string(repository.join("host.json")).unwrap()).unwrap();
    host["customHandler"]["enableProxyingHttpRequest"] = Value::Bool(false);
    host["customHandler"]["enableForwardingHttpRequest"] = Value::Bool(false);
    std::fs::write(app.path().join("host.json"), host.to_string()).unwrap();
    for function in std::fs::read_dir(repository.join("functions")).unwrap().filter_map(Result::ok) {
        let folder = app.path().join("functions").join(function.file_name());
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::copy(function.path().join("function.json"), folder.join("function.json")).unwrap();
    }
    app
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

/// In the default protocol the host's key identity names the key that matched (`keyid`): a function key and a
/// host key each become the caller of what they sent; behind Easy Auth the signed-in principal is.
#[tokio::test]
async fn in_the_envelope_protocol_the_keys_name_is_the_caller() {
    let app = envelope_app();
    let options = |easy_auth: bool| Options {
        instances: 1,
        app: Some(app.path().to_path_buf()),
        env: vec![("FUNCHOST_EASY_AUTH".into(), easy_auth.to_string())],
        ..Default::default()
    };
    let shape = Shape::start(options(false)).await;
    let by_function_key = sent_with(&shape, &[]).await;
    assert_eq!(by_function_key["caller"], "till-1", "{by_function_key}");
    let body = receive("store-1", "apple-pie", 1);
    let response = shape.client.post(shape.url("/api/commands")).header("x-functions-key", HOST).json(&body);
    let response = response.send().await.unwrap();
    assert_eq!(response.headers()["x-funchost-http-mode"], "envelope");
    assert_eq!(response.status(), StatusCode::OK);
    let forged = sent_with(&shape, &[("x-ms-client-principal-name", "mallory@example.com")]).await;
    assert_eq!(forged["caller"], "till-1", "a client's own principal header is not believed: {forged}");
    let text = shape.get("/api/activity?limit=100", 0, None).await.text().await.unwrap();
    assert!(text.contains("\"caller\":\"default\""), "the host key's name: {text}");
    for key in [COMMAND, HOST, QUERY] {
        assert!(!text.contains(key), "a key value in the activity");
    }
    drop(shape);
    let shape = Shape::start(options(true)).await;
    let signed_in = sent_with(&shape, &[("x-funchost-principal", "dana@pieshop.example")]).await;
    assert_eq!(signed_in["caller"], "dana@pieshop.example", "{signed_in}");
}
