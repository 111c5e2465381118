//! Offline records through the API (`docs/API.md`, Offline records): two scanners that worked offline upload
//! overlapping queues, and every record lands by when it happened, not when it arrived.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_problem, id, spawn_app, wait_until};

/// A record of something that happened on the morning of 2 March at `time` (hh:mm).
fn record(kind: &str, quantity: u64, time: &str) -> Value {
    let mut body = json!({"commandId": id(), "type": kind, "location": "store-1", "sku": "apple-pie",
                          "quantity": quantity, "occurredAt": format!("2026-03-02T{time}:00Z")});
    if kind == "remove" {
        body["reason"] = json!("sold");
    }
    body
}

/// Uploads a queue as one batch; each result's (status, delta or null, quantity after).
async fn upload(app: &TestApp, queue: &[Value]) -> Vec<(String, Value, i64)> {
    let response = app.post_json("/api/commands/batch", &json!({"commands": queue})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    (body["results"].as_array().unwrap().iter())
        .map(|r| {
            let status = r["status"].as_str().unwrap_or_else(|| panic!("no status: {r}")).to_owned();
            (status, r.get("delta").cloned().unwrap_or(Value::Null), r["items"][0]["quantity"].as_i64().unwrap())
        })
        .collect()
}

/// The example day of the README: the van's scanner uploads first, then the shop's (re-sending one record the
/// van already sent), then the van's late count, the shop's old count and the van's last delivery.
#[tokio::test]
async fn two_scanners_uploading_overlapping_queues_land_by_when_things_happened() {
    let app = spawn_app().await;
    let van_sale = record("remove", 2, "11:00");
    let van = [record("remove", 3, "10:15"), van_sale.clone(), record("receive", 6, "09:00")];
    let shop = [record("count", 20, "10:00"), record("remove", 4, "10:30"), record("remove", 1, "11:30"), van_sale];
    let late = [record("count", 12, "11:15"), record("count", 30, "09:30"), record("receive", 5, "11:10")];

    let seen = [upload(&app, &van).await, upload(&app, &shop).await, upload(&app, &late).await].concat();
    let expected = [
        ("applied", Value::Null, -3), // no stock known yet: a record is never refused, the item needs a count
        ("applied", Value::Null, -5),
        ("applied", Value::Null, 1), // the 09:00 delivery, uploaded last by the van
        ("adjusted", json!(14), 15), // 20 at 10:00, when the item held 6; the sales after 10:00 still count
        ("applied", Value::Null, 11),
        ("applied", Value::Null, 10),
        ("duplicate", Value::Null, -5), // the van's 11:00 sale again: the original answer, applied once
        ("adjusted", json!(1), 11),     // 12 at 11:15, when the item held 11; the 11:30 sale still counts
        ("superseded", Value::Null, 11), // older than the 11:15 count
        ("absorbed", Value::Null, 11),  // a delivery before the 11:15 count, which already saw it
    ];
    let expected: Vec<(String, Value, i64)> = expected.iter().map(|(s, d, q)| (s.to_string(), d.clone(), *q)).collect();
    assert_eq!(seen, expected);

    let item = app.wait_for_item("store-1", "apple-pie", 9).await;
    assert_eq!((&item["quantity"], &item["needsCount"]), (&json!(11), &json!(false)));
    let activity = app.get_json("/api/activity?sku=apple-pie").await;
    let outcomes: Vec<&str> =
        activity["events"].as_array().unwrap().iter().map(|e| e["outcome"].as_str().unwrap()).collect();
    assert_eq!(
        outcomes,
        ["absorbed", "superseded", "adjusted", "applied", "applied", "adjusted", "applied", "applied", "applied"]
    );
}

/// The same records in the opposite order, one by one, end at the same stock.
#[tokio::test]
async fn the_same_records_in_reverse_end_at_the_same_stock() {
    let app = spawn_app().await;
    let records = [
        record("receive", 6, "09:00"),
        record("count", 30, "09:30"),
        record("count", 20, "10:00"),
        record("remove", 3, "10:15"),
        record("remove", 4, "10:30"),
        record("remove", 2, "11:00"),
        record("receive", 5, "11:10"),
        record("count", 12, "11:15"),
        record("remove", 1, "11:30"),
    ];
    for record in records.iter().rev() {
        upload(&app, std::slice::from_ref(record)).await;
    }
    let item = app.wait_for_item("store-1", "apple-pie", 9).await;
    assert_eq!(item["quantity"], 11);
}

/// An offline sale with no stock known drives the item negative and flags it; the delivery that came before it
/// clears the flag.
#[tokio::test]
async fn a_sale_recorded_offline_before_its_delivery_arrives_flags_the_item() {
    let app = spawn_app().await;
    upload(&app, &[record("remove", 4, "10:00")]).await;
    let item = app.wait_for_item("store-1", "apple-pie", 1).await;
    assert_eq!((&item["quantity"], &item["needsCount"]), (&json!(-4), &json!(true)));
    upload(&app, &[record("receive", 24, "08:00")]).await;
    let item = app.wait_for_item("store-1", "apple-pie", 2).await;
    assert_eq!((&item["quantity"], &item["needsCount"]), (&json!(20), &json!(false)));
}

/// A live removal (no occurredAt) is still refused for want of stock, and changes nothing.
#[tokio::test]
async fn a_live_removal_is_still_refused_for_want_of_stock() {
    let app = spawn_app().await;
    let live = json!({"commandId": id(), "type": "remove", "location": "store-1", "sku": "apple-pie", "quantity": 1, "reason": "sold"});
    expect_problem(app.command(live).await, 409, "insufficient-stock").await;
    assert!(app.write_items().await.is_empty());
}

/// A record dated beyond the clock-skew allowance is bad input.
#[tokio::test]
async fn a_record_from_the_future_is_refused_as_bad_input() {
    let app = spawn_app().await;
    let mut future = record("receive", 1, "10:00");
    future["occurredAt"] = json!("2999-01-01T00:00:00Z");
    let problem = expect_problem(app.command(future).await, 400, "invalid-request").await;
    assert!(problem.to_string().contains("occurredAt"), "{problem}");
    assert!(app.write_items().await.is_empty());
}

/// A transfer whose second half has not happened shows as stock in transit, counted at neither end, until the
/// relay completes it.
#[tokio::test]
async fn stock_in_transit_shows_until_the_second_half_lands() {
    let app = spawn_app().await;
    app.command(crate::helpers::receive("store-1", "apple-pie", 10)).await;
    let van = pieshop::domain::StreamId::parse("van/apple-pie").unwrap();
    *app.failing_stream.lock().unwrap() = Some(van);
    let transfer = json!({"commandId": id(), "type": "transfer", "from": "store-1", "to": "van", "sku": "apple-pie", "quantity": 4});
    let answer: Value = app.command(transfer).await.json().await.unwrap();
    assert_eq!(answer["pending"], true);
    let summary = wait_until(&app, "/api/inventory/summary", |s| !s["inTransit"].as_array().unwrap().is_empty()).await;
    let in_transit = &summary["inTransit"][0];
    assert_eq!(
        (&in_transit["from"], &in_transit["to"], &in_transit["quantity"]),
        (&json!("store-1"), &json!("van"), &json!(4))
    );
    assert_eq!(summary["products"][0]["total"], 6, "stock in transit is counted at neither end");

    *app.failing_stream.lock().unwrap() = None;
    app.relay().await;
    let summary = wait_until(&app, "/api/inventory/summary", |s| s["inTransit"].as_array().unwrap().is_empty()).await;
    assert_eq!(summary["products"][0]["total"], 10);
}

/// `verify` finds no drift after records in any order, and `rebuild` replays them into the same read model.
#[tokio::test]
async fn verify_and_rebuild_agree_with_the_rules() {
    let app = spawn_app().await;
    let queue = [record("remove", 7, "10:30"), record("count", 3, "10:00"), record("remove", 1, "09:00")];
    upload(&app, &queue).await;
    upload(&app, &[record("count", 8, "09:45"), record("receive", 2, "11:00")]).await;
    let before = app.wait_for_item("store-1", "apple-pie", 5).await;
    assert_eq!((&before["quantity"], &before["needsCount"]), (&json!(-2), &json!(true)));
    let run = |args: &[&str]| {
        let output = crate::helpers::handler_command()
            .args(args)
            .env("PIESHOP_DATA_DIR", app.data_dir())
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert!(run(&["verify"]).contains("verify: 0 difference(s)"));
    run(&["rebuild"]);
    let after = app.get_json("/api/inventory/store-1/apple-pie").await;
    assert_eq!(after, before);
    let activity = app.get_json("/api/activity?sku=apple-pie").await;
    let outcomes: Vec<&str> =
        activity["events"].as_array().unwrap().iter().map(|e| e["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["applied", "superseded", "absorbed", "adjusted", "applied"]);
}
