//! Guarantee 8: bad input gets a 4xx problem+json that says what is wrong and where, and changes nothing.

use serde_json::{Value, json};

use crate::helpers::{expect_problem, id, receive, spawn_app};

const UUID: &str = "6f1b3c9e-3f4a-4a53-9a6e-0b7f1f0c2d11";

fn base() -> Value {
    json!({"commandId": UUID, "type": "receive", "location": "store-1", "sku": "apple-pie", "quantity": 1})
}

fn with(field: &str, value: Value) -> Value {
    let mut body = base();
    body[field] = value;
    body
}

fn without(field: &str) -> Value {
    let mut body = base();
    body.as_object_mut().unwrap().remove(field);
    body
}

/// Bodies that parse as JSON but are not valid commands, with the field each must blame.
fn invalid_commands() -> Vec<(Value, &'static str)> {
    vec![
        (with("quantity", json!(0)), "quantity"),
        (with("quantity", json!(-3)), "quantity"),
        (with("quantity", json!(1_000_001)), "quantity"),
        (with("quantity", json!(2.5)), "quantity"),
        (with("quantity", json!("3")), "quantity"),
        (with("quantity", json!(null)), "quantity"),
        (without("quantity"), "quantity"),
        (with("location", json!("Store-1")), "location"),
        (with("location", json!("store 1")), "location"),
        (with("location", json!("")), "location"),
        (with("location", json!("a".repeat(65))), "location"),
        (with("location", json!("../etc")), "location"),
        (with("sku", json!("pie'; DROP TABLE items;--")), "sku"),
        (with("sku", json!(42)), "sku"),
        (without("sku"), "sku"),
        (with("commandId", json!("not-a-uuid")), "commandId"),
        (with("commandId", json!(7)), "commandId"),
        (without("commandId"), "commandId"),
        (with("type", json!("steal")), "type"),
        (with("type", json!(null)), "type"),
        (with("colour", json!("red")), "colour"),
        (with("reason", json!("sold")), "reason"),
        (with("expectedVersion", json!(-1)), "expectedVersion"),
        (with("expectedVersion", json!("1")), "expectedVersion"),
        (with("scannerId", json!("")), "scannerId"),
        (with("scannerId", json!("s".repeat(65))), "scannerId"),
        (with("occurredAt", json!("yesterday")), "occurredAt"),
        (with("occurredAt", json!("9999-12-31T23:59:59-01:00")), "occurredAt"),
        (with("occurredAt", json!("0000-01-01T00:00:00+01:00")), "occurredAt"),
        (with("note", json!("n".repeat(501))), "note"),
        (json!({"commandId": UUID, "type": "remove", "location": "a", "sku": "b", "quantity": 1}), "reason"),
        (
            json!({"commandId": UUID, "type": "remove", "location": "a", "sku": "b", "quantity": 1, "reason": "eaten"}),
            "reason",
        ),
        (json!({"commandId": UUID, "type": "count", "location": "a", "sku": "b", "quantity": -1}), "quantity"),
        (json!({"commandId": UUID, "type": "transfer", "from": "a", "to": "a", "sku": "b", "quantity": 1}), "to"),
        (json!({"commandId": UUID, "type": "transfer", "from": "a", "sku": "b", "quantity": 1}), "to"),
        (json!({"commandId": UUID, "type": "defineProduct", "sku": "b", "name": ""}), "name"),
        (json!({"commandId": UUID, "type": "defineProduct", "sku": "b", "name": "x".repeat(121)}), "name"),
        (
            json!({"commandId": UUID, "type": "defineProduct", "sku": "b", "name": "Pie", "reorderLevel": -1}),
            "reorderLevel",
        ),
        (json!([base()]), "$"),
        (json!("receive"), "$"),
    ]
}

#[tokio::test]
async fn every_invalid_command_is_a_400_naming_the_field_and_changes_nothing() {
    let app = spawn_app().await;
    app.command(receive("store-1", "apple-pie", 5)).await;
    let before = app.write_items().await;
    for (body, field) in invalid_commands() {
        let problem = expect_problem(app.command(body.clone()).await, 400, "invalid-request").await;
        let fields: Vec<&str> =
            problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert!(fields.contains(&field), "{body} blamed {fields:?}, not {field}");
    }
    assert_eq!(app.write_items().await, before);
    assert_eq!(app.event_count().await, 1);
}

#[tokio::test]
async fn malformed_bodies_media_types_sizes_and_methods_get_their_problems() {
    let app = spawn_app().await;
    let post = |path: &str, content_type: &str, body: Vec<u8>| {
        app.client.post(app.url(path)).header("content-type", content_type).body(body).send()
    };
    let cases: Vec<(reqwest::Response, u16, &str)> = vec![
        (post("/api/commands", "application/json", b"{\"commandId\":".to_vec()).await.unwrap(), 400, "invalid-request"),
        (post("/api/commands", "application/json", b"".to_vec()).await.unwrap(), 400, "invalid-request"),
        (post("/api/commands", "application/json", vec![0xff, 0xfe, b'{']).await.unwrap(), 400, "invalid-request"),
        (
            post("/api/commands", "text/plain", base().to_string().into_bytes()).await.unwrap(),
            415,
            "unsupported-media-type",
        ),
        (
            post("/api/commands", "application/x-www-form-urlencoded", b"a=1".to_vec()).await.unwrap(),
            415,
            "unsupported-media-type",
        ),
        (post("/api/commands", "application/json", vec![b' '; 70 * 1024]).await.unwrap(), 413, "payload-too-large"),
        (
            post("/api/commands/batch", "application/json", vec![b' '; 1100 * 1024]).await.unwrap(),
            413,
            "payload-too-large",
        ),
        (
            post("/api/commands/batch", "application/json", b"{\"commands\": []}".to_vec()).await.unwrap(),
            400,
            "invalid-request",
        ),
        (
            post("/api/commands/batch", "application/json", b"{\"commands\": {}}".to_vec()).await.unwrap(),
            400,
            "invalid-request",
        ),
        (
            post("/api/commands/batch", "application/json", b"{\"commands\": [], \"x\": 1}".to_vec()).await.unwrap(),
            400,
            "invalid-request",
        ),
        (post("/api/commands/batch", "application/json", b"[]".to_vec()).await.unwrap(), 400, "invalid-request"),
        (app.client.get(app.url("/api/commands")).send().await.unwrap(), 405, "method-not-allowed"),
        (app.client.delete(app.url("/api/inventory")).send().await.unwrap(), 405, "method-not-allowed"),
        (app.client.put(app.url("/api/commands/batch")).send().await.unwrap(), 405, "method-not-allowed"),
        (app.client.get(app.url("/api/nothing-here")).send().await.unwrap(), 404, "not-found"),
        (app.get("/api/inventory/store-1/never-seen").await, 404, "not-found"),
        (app.get("/api/inventory/Store-1/pie").await, 400, "invalid-request"),
        (app.get("/api/inventory/store-1/-pie").await, 400, "invalid-request"),
        (app.get(&format!("/api/inventory/{}/pie", "a".repeat(65))).await, 400, "invalid-request"),
        (app.get("/api/inventory?limit=0").await, 400, "invalid-request"),
        (app.get("/api/inventory?limit=501").await, 400, "invalid-request"),
        (app.get("/api/inventory?limit=ten").await, 400, "invalid-request"),
        (app.get("/api/inventory?location=Nope").await, 400, "invalid-request"),
        (app.get("/api/inventory?lowStock=yes").await, 400, "invalid-request"),
        (app.get("/api/inventory?cursor=garbage").await, 400, "invalid-request"),
        (app.get(&format!("/api/inventory?q={}", "x".repeat(201))).await, 400, "invalid-request"),
        (app.get("/api/activity?limit=1000").await, 400, "invalid-request"),
        (app.get("/api/inventory/summary?waitForChange=x&timeout=61").await, 400, "invalid-request"),
        (app.get("/api/inventory/a/b?minVersion=-1").await, 400, "invalid-request"),
        (app.get("/api/activity?timeout=soon").await, 400, "invalid-request"),
    ];
    for (n, (response, status, slug)) in cases.into_iter().enumerate() {
        let url = response.url().to_string();
        let body = expect_problem(response, status, slug).await;
        assert!(body["title"].is_string(), "case {n} {url}");
    }
    assert_eq!(app.event_count().await, 0, "nothing was applied");
}

#[tokio::test]
async fn an_empty_number_or_flag_is_refused_not_taken_as_the_default_which_schemathesis_found_it_was() {
    let app = spawn_app().await;
    for path in [
        "/api/activity?limit=",
        "/api/inventory?lowStock=",
        "/api/inventory/summary?waitForChange=x&timeout=",
        "/api/inventory/a/b?minVersion=",
    ] {
        let body = expect_problem(app.get(path).await, 400, "invalid-request").await;
        assert!(body["title"].is_string(), "{path}");
    }
    assert_eq!(app.event_count().await, 0, "nothing was applied");
}

/// Past int64, as the document bounds it.
#[tokio::test]
async fn a_min_version_past_int64_is_refused_not_waited_for_which_schemathesis_found_it_was() {
    let app = spawn_app().await;
    let response = app.get("/api/inventory/a/b?minVersion=9223372036854775808").await;
    let body = expect_problem(response, 400, "invalid-request").await;
    assert!(body["title"].is_string());
    assert_eq!(app.event_count().await, 0, "nothing was applied");
}

#[tokio::test]
async fn a_batch_over_500_commands_is_refused_whole() {
    let app = spawn_app().await;
    let commands: Vec<Value> = (0..501).map(|_| receive("store-1", "apple-pie", 1)).collect();
    let response = app.post_json("/api/commands/batch", &json!({ "commands": commands })).await;
    expect_problem(response, 400, "invalid-request").await;
    assert_eq!(app.event_count().await, 0);
}

#[tokio::test]
async fn a_backend_outage_is_a_503_with_retry_after_and_loses_nothing() {
    let app = spawn_app().await;
    *app.failing_stream.lock().unwrap() = Some(pieshop::domain::StreamId::parse("store-1/apple-pie").unwrap());
    let command = receive("store-1", "apple-pie", 4);
    let response = app.command(command.clone()).await;
    assert!(response.headers().get("retry-after").is_some());
    expect_problem(response, 503, "unavailable").await;
    *app.failing_stream.lock().unwrap() = None;
    assert_eq!(app.command(command).await.status(), 200, "the retry with the same id is applied");
    assert_eq!(app.write_items().await, vec![("store-1/apple-pie".into(), 4, 1)]);
    let _ = id();
}

/// A negotiate version past a 32-bit integer is bad input; version 1 (what the official client sends) is answered.
#[tokio::test]
async fn negotiate_refuses_a_version_out_of_range_which_schemathesis_found_it_accepted() {
    let app = crate::helpers::spawn_app().await;
    for bad in ["2147483648", "-1", "x", ""] {
        let response = app.post_json(&format!("/api/negotiate?negotiateVersion={bad}"), &serde_json::json!({})).await;
        crate::helpers::expect_problem(response, 400, "invalid-request").await;
    }
    let answer: serde_json::Value =
        app.post_json("/api/negotiate?negotiateVersion=1", &serde_json::json!({})).await.json().await.unwrap();
    assert_eq!(answer["negotiateVersion"], 1);
}
