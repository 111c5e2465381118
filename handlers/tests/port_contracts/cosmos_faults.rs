//! Cosmos DB throttling and outages, injected through the SDK's own fault injection: retried inside a
//! bounded budget, surfaced as 503 + Retry-After only when the budget runs out, and nothing lost either way.

use std::sync::Arc;

use azure_data_cosmos::fault_injection::{
    FaultInjectionConditionBuilder, FaultInjectionErrorType, FaultInjectionResultBuilder, FaultInjectionRule,
    FaultInjectionRuleBuilder, FaultOperationType,
};
use pieshop::adapters::cosmos::CosmosWriteStore;
use pieshop::adapters::embedded::InProcessCache;
use pieshop::ports::WriteStore;
use pieshop_testkit::served::{Served, in_process, serve};
use serde_json::{Value, json};

use crate::support::{cosmos_client, sqlite_read_model};

fn rule(id: &str, error: FaultInjectionErrorType, hits: Option<u32>) -> Arc<FaultInjectionRule> {
    let result = FaultInjectionResultBuilder::new().with_error(error).build();
    let condition = FaultInjectionConditionBuilder::new().with_operation_type(FaultOperationType::BatchItem).build();
    let mut builder = FaultInjectionRuleBuilder::new(id, result).with_condition(condition);
    if let Some(hits) = hits {
        builder = builder.with_hit_limit(hits);
    }
    Arc::new(builder.build())
}

/// The app on Cosmos (in-memory emulator with `rules`) and an embedded read model, on a local port.
async fn app_with(rules: Vec<Arc<FaultInjectionRule>>) -> (Served, Arc<dyn WriteStore>, tempfile::TempDir) {
    let (client, settings) = cosmos_client(rules).await;
    let store: Arc<dyn WriteStore> = Arc::new(CosmosWriteStore::from_client(&client, &settings).await.unwrap());
    let (read_model, dir) = sqlite_read_model();
    let served = serve(in_process(store.clone(), read_model, Arc::new(InProcessCache::default()), "azure")).await;
    (served, store, dir)
}

fn receive() -> Value {
    json!({"commandId": uuid::Uuid::new_v4().to_string(), "type": "receive", "location": "store-1", "sku": "apple-pie", "quantity": 4})
}

#[tokio::test]
async fn throttled_commits_are_retried_and_applied_once() {
    let throttle = rule("batch-429-twice", FaultInjectionErrorType::TooManyRequests, Some(2));
    let (app, store, _dir) = app_with(vec![throttle.clone()]).await;
    let response = reqwest::Client::new().post(app.url("/api/commands")).json(&receive()).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(throttle.hit_count(), 2, "both injected 429s were met and retried");
    assert_eq!(store.events().await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_outage_is_a_503_with_retry_after_and_the_retry_applies_once() {
    let outage = rule("batch-503", FaultInjectionErrorType::ServiceUnavailable, None);
    let (app, store, _dir) = app_with(vec![outage.clone()]).await;
    let client = reqwest::Client::new();
    let command = receive();
    let response = client.post(app.url("/api/commands")).json(&command).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().get("retry-after").is_some());
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["type"], "urn:pieshop:problem:unavailable");
    assert!(!problem.to_string().contains("emulator.local"), "no internals in the answer: {problem}");
    assert!(store.events().await.unwrap().is_empty(), "nothing was written");

    outage.disable();
    let retried = client.post(app.url("/api/commands")).json(&command).send().await.unwrap();
    assert_eq!(retried.status(), 200);
    let again = client.post(app.url("/api/commands")).json(&command).send().await.unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(store.events().await.unwrap().len(), 1);
}

#[tokio::test]
async fn permanent_throttling_gives_up_quickly() {
    let throttle = rule("batch-429-forever", FaultInjectionErrorType::TooManyRequests, None);
    let (app, _store, _dir) = app_with(vec![throttle]).await;
    let response = reqwest::Client::new().post(app.url("/api/commands")).json(&receive()).send().await.unwrap();
    assert_eq!(response.status(), 503, "the bounded retry budget runs out and the client is told to retry");
}

/// A late count that must read the item's ledger during an outage of Cosmos DB's queries: 503 with Retry-After and
/// nothing written; once it is back, the retry is placed among the movements as if nothing had happened.
#[tokio::test]
async fn a_ledger_read_in_an_outage_is_a_503_and_the_retry_is_placed() {
    let condition = FaultInjectionConditionBuilder::new().with_operation_type(FaultOperationType::QueryItem).build();
    let result = FaultInjectionResultBuilder::new().with_error(FaultInjectionErrorType::ServiceUnavailable).build();
    let outage = Arc::new(FaultInjectionRuleBuilder::new("query-503", result).with_condition(condition).build());
    outage.disable();
    let (app, store, _dir) = app_with(vec![outage.clone()]).await;
    let client = reqwest::Client::new();
    let record = |kind: &str, quantity: u32, at: &str| {
        json!({"commandId": uuid::Uuid::new_v4().to_string(), "type": kind, "location": "van", "sku": "apple-pie",
               "quantity": quantity, "occurredAt": at})
    };
    for receipt in [record("receive", 5, "2026-03-02T10:00:00Z"), record("receive", 3, "2026-03-02T12:00:00Z")] {
        assert_eq!(client.post(app.url("/api/commands")).json(&receipt).send().await.unwrap().status(), 200);
    }
    let count = record("count", 20, "2026-03-02T11:00:00Z");
    outage.enable();
    let refused = client.post(app.url("/api/commands")).json(&count).send().await.unwrap();
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().get("retry-after").is_some());
    outage.disable();
    assert_eq!(store.events().await.unwrap().len(), 2, "nothing was written");
    let placed: Value = client.post(app.url("/api/commands")).json(&count).send().await.unwrap().json().await.unwrap();
    assert_eq!(placed["status"], "adjusted", "{placed}");
    assert_eq!(placed["items"][0]["quantity"], 23, "20 counted at 11:00, then the 12:00 receipt: {placed}");
}
