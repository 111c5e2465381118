//! The command contract of docs/API.md: answers, every command type, batches.

use serde_json::{Value, json};

use crate::helpers::{expect_problem, id, receive, remove, spawn_app, wait_until};

/// A receive answers with the item's new state and one deterministic event id.
#[tokio::test]
async fn a_receive_answers_with_the_new_state() {
    let app = spawn_app().await;
    let response = app.command(receive("store-1", "apple-pie", 24)).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "applied");
    assert_eq!(
        body["items"],
        json!([{"location": "store-1", "sku": "apple-pie", "quantity": 24, "version": 1, "needsCount": false}])
    );
    assert_eq!(body["events"].as_array().unwrap().len(), 1);
}

/// A stock-take sets the absolute quantity, up or down.
#[tokio::test]
async fn a_count_sets_the_quantity() {
    let app = spawn_app().await;
    app.command(receive("store-1", "apple-pie", 24)).await;
    let count = json!({"commandId": id(), "type": "count", "location": "store-1", "sku": "apple-pie", "quantity": 0});
    let body: Value = app.command(count).await.json().await.unwrap();
    assert_eq!(body["items"][0]["quantity"], 0);
    assert_eq!((&body["status"], &body["delta"]), (&json!("adjusted"), &json!(-24)));
    assert_eq!(app.wait_for_item("store-1", "apple-pie", 2).await["quantity"], 0);
}

/// A transfer moves stock between locations and reports both ends once applied.
#[tokio::test]
async fn a_transfer_moves_stock_and_reports_both_ends() {
    let app = spawn_app().await;
    app.command(receive("back-room", "apple-pie", 10)).await;
    let transfer = json!({"commandId": id(), "type": "transfer", "from": "back-room", "to": "van", "sku": "apple-pie", "quantity": 4});
    let body: Value = app.command(transfer).await.json().await.unwrap();
    assert_eq!(body["pending"], false);
    assert_eq!(body["items"][0]["quantity"], 6);
    assert_eq!(
        body["items"][1],
        json!({"location": "van", "sku": "apple-pie", "quantity": 4, "version": 1, "needsCount": false})
    );
    assert_eq!(app.write_items().await, vec![("back-room/apple-pie".into(), 6, 2), ("van/apple-pie".into(), 4, 1)]);
}

/// A transfer from a location without enough stock is refused and moves nothing.
#[tokio::test]
async fn a_transfer_without_stock_is_refused() {
    let app = spawn_app().await;
    app.command(receive("back-room", "apple-pie", 1)).await;
    let transfer = json!({"commandId": id(), "type": "transfer", "from": "back-room", "to": "van", "sku": "apple-pie", "quantity": 4});
    expect_problem(app.command(transfer).await, 409, "insufficient-stock").await;
    assert_eq!(app.write_items().await, vec![("back-room/apple-pie".into(), 1, 1)]);
}

/// Defining a product names its items everywhere and sets the reorder level used for low stock.
#[tokio::test]
async fn defining_a_product_names_its_items_and_sets_low_stock() {
    let app = spawn_app().await;
    app.command(receive("store-1", "apple-pie", 3)).await;
    let define = json!({"commandId": id(), "type": "defineProduct", "sku": "apple-pie", "name": "Apple Pie",
                        "category": "pies", "reorderLevel": 5});
    let body: Value = app.command(define).await.json().await.unwrap();
    assert_eq!(
        body["product"],
        json!({"sku": "apple-pie", "name": "Apple Pie", "category": "pies", "reorderLevel": 5, "version": 1})
    );
    let low = wait_until(&app, "/api/inventory?lowStock=true", |v| !v["items"].as_array().unwrap().is_empty()).await;
    assert_eq!(low["items"][0]["name"], "Apple Pie");
    assert_eq!(low["items"][0]["low"], true);
}

/// A batch applies each command on its own, in order, and reports each outcome.
#[tokio::test]
async fn a_batch_applies_each_command_on_its_own() {
    let app = spawn_app().await;
    let good = receive("store-1", "apple-pie", 2);
    let batch = json!({"commands": [
        good,
        remove("store-1", "apple-pie", 5),
        {"commandId": id(), "type": "receive", "location": "Bad Place", "sku": "apple-pie", "quantity": 1},
        remove("store-1", "apple-pie", 1),
        good,
    ]});
    let response = app.post_json("/api/commands/batch", &batch).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let statuses: Vec<&str> =
        body["results"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["applied", "rejected", "rejected", "applied", "duplicate"]);
    assert_eq!(body["results"][1]["problem"]["type"], "urn:pieshop:problem:insufficient-stock");
    assert_eq!(body["results"][2]["problem"]["errors"][0]["field"], "commands[2].location");
    assert_eq!(app.write_items().await, vec![("store-1/apple-pie".into(), 1, 2)]);
}

/// JSON Schema counts `24.0` as an integer, so every generated client may send one.
#[tokio::test]
async fn an_integer_written_with_a_zero_fraction_is_accepted_as_that_integer_as_schemathesis_sends_it() {
    let app = spawn_app().await;
    let body = json!({"commandId": id(), "type": "receive", "location": "store-1", "sku": "apple-pie",
                      "quantity": 24.0});
    let response = app.command(body.clone()).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["items"][0]["quantity"], 24);
    let mut plain = body;
    plain["quantity"] = json!(24);
    let replay = app.command(plain).await;
    assert_eq!(replay.status(), 200, "the same command written as 24 is a replay, not a reused id");
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
}
