//! host.json asks for `enableProxyingHttpRequest` and keeps `enableForwardingHttpRequest` as the fallback
//! (docs/protocol/functions-custom-handler.md §3): a current host proxies, one without proxying forwards. The
//! app answers the same either way, long polls included, which the handler caps at 60 s, well under the front
//! end's 230 s. The whole deployed-shape suite runs under forwarding too with FUNCHOST_HOST_WITHOUT_PROXYING=true.

// The deployed-shape harness, shared with deployed.rs (which uses all of it).
#[allow(dead_code, unused_imports)]
mod shape;

use reqwest::StatusCode;
use serde_json::Value;
use shape::{HOST, Options, QUERY, Shape, receive};

async fn the_app_answers_through(mode: &str, env: Vec<(String, String)>) {
    let shape = Shape::start(Options { instances: 1, env, ..Default::default() }).await;
    let command = shape.command(&receive("store-1", "apple-pie", 4), None).await;
    assert_eq!(command.status(), StatusCode::OK);
    assert_eq!(command.headers()["x-funchost-http-mode"], mode);
    let answer: Value = command.json().await.unwrap();
    let events: Vec<String> = answer["events"].as_array().unwrap().iter().map(|e| e.as_str().unwrap().into()).collect();
    shape.wait_acknowledged(&events).await;
    let item = shape.get("/api/inventory/store-1/apple-pie", 0, None).await;
    assert_eq!(item.status(), StatusCode::OK);
    let etag = item.headers()["etag"].to_str().unwrap().to_owned();
    let body: Value = item.json().await.unwrap();
    assert_eq!(body["quantity"], 4);
    // A long poll that sees no change answers 304 when its timeout is up; past 60 s it is refused.
    let path = format!("/api/inventory/store-1/apple-pie?waitForChange={}&timeout=1", etag.trim_matches('"'));
    let polled = shape.get(&path, 0, None).await;
    assert!(matches!(polled.status(), StatusCode::NOT_MODIFIED | StatusCode::OK), "{}", polled.status());
    assert_eq!(polled.headers()["x-funchost-http-mode"], mode);
    let too_long = shape.get("/api/inventory?waitForChange=x&timeout=230", 0, None).await;
    assert_eq!(too_long.status(), StatusCode::BAD_REQUEST, "no long poll reaches the front end's 230 s");
    let batch = shape
        .client
        .post(shape.url("/api/commands/batch"))
        .header("x-functions-key", HOST)
        .json(&serde_json::json!({"commands": [receive("van", "pork-pie", 2)]}))
        .send()
        .await
        .unwrap();
    assert_eq!(batch.status(), StatusCode::OK, "a request body passes either way");
    let unkeyed = shape.client.get(shape.url("/api/inventory")).send().await.unwrap();
    assert_eq!(unkeyed.status(), StatusCode::UNAUTHORIZED);
    let keyed = shape.client.get(shape.url(&format!("/api/inventory?code={QUERY}"))).send().await.unwrap();
    assert_eq!(keyed.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_current_host_proxies() {
    the_app_answers_through("proxy", vec![("FUNCHOST_HOST_WITHOUT_PROXYING".into(), "false".into())]).await;
}

#[tokio::test]
async fn a_host_without_proxying_forwards() {
    the_app_answers_through("forward", vec![("FUNCHOST_HOST_WITHOUT_PROXYING".into(), "true".into())]).await;
}
