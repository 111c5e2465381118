//! The OpenAPI document: served at `/api/openapi.json`, behind the key like every query, and equal to the
//! committed `docs/openapi.json` (regenerate with `cargo run -- openapi > docs/openapi.json`).

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::spawn_app;

const COMMITTED: &str = include_str!("../../../docs/openapi.json");

#[tokio::test]
async fn the_served_document_is_the_committed_one() {
    let app = spawn_app().await;
    let response = app.get("/api/openapi.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let served: Value = response.json().await.expect("json");
    let committed: Value = serde_json::from_str(COMMITTED).expect("docs/openapi.json is JSON");
    assert!(
        served == committed,
        "docs/openapi.json differs from what the binary serves: run `cargo run -- openapi > docs/openapi.json`"
    );
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_names_every_operation() {
    let committed: Value = serde_json::from_str(COMMITTED).expect("json");
    assert_eq!(committed["openapi"], "3.1.0");
    let mut operations: Vec<&str> = committed["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|operation| operation["operationId"].as_str())
        .collect();
    operations.sort_unstable();
    let expected = [
        "dashboard",
        "getItem",
        "health",
        "inventorySummary",
        "listActivity",
        "listInventory",
        "listLocations",
        "negotiate",
        "openapi",
        "postBatch",
        "postCommand",
    ];
    assert_eq!(operations, expected);
}
