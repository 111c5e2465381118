//! Barcodes (docs/API.md 1.2): products with GTINs, commands that give a barcode instead of a sku, the two
//! problems (`barcode-taken`, `unknown-barcode`), `?barcode=` and barcodes on products in answers.

use serde_json::{Value, json};

use crate::helpers::{expect_problem, id, spawn_app, wait_until};

const EAN: &str = "4006381333931";
const UPC: &str = "036000291452";

fn define(sku: &str, barcodes: &[&str]) -> Value {
    json!({"commandId": id(), "type": "defineProduct", "sku": sku, "name": sku, "barcodes": barcodes})
}

fn scan(kind: &str, barcode: &str, quantity: u32) -> Value {
    let mut body =
        json!({"commandId": id(), "type": kind, "location": "store-1", "barcode": barcode, "quantity": quantity});
    if kind == "remove" {
        body["reason"] = json!("sold");
    }
    body
}

async fn ok(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// A product defined with barcodes answers with them; a scan by barcode changes the sku's item, and its answer and
/// event name the sku; every stock command takes a barcode.
#[tokio::test]
async fn a_scan_by_barcode_changes_the_item_of_the_sku_that_has_it() {
    let app = spawn_app().await;
    let defined = ok(app.command(define("apple-pie", &[EAN, UPC])).await).await;
    assert_eq!(defined["product"]["barcodes"], json!([EAN, UPC]));
    let received = ok(app.command(scan("receive", EAN, 10)).await).await;
    assert_eq!(received["items"][0]["sku"], "apple-pie");
    assert_eq!(received["items"][0]["quantity"], 10);
    let removed = ok(app.command(scan("remove", "0036000291452", 3)).await).await;
    assert_eq!(removed["items"][0]["quantity"], 7, "the GTIN-13 form of its GTIN-12 is the same barcode");
    let counted = ok(app.command(scan("count", EAN, 6)).await).await;
    assert_eq!(counted["items"][0]["quantity"], 6);
    let transfer = json!({"commandId": id(), "type": "transfer", "from": "store-1", "to": "van", "barcode": UPC,
                          "quantity": 2});
    let moved = ok(app.command(transfer).await).await;
    assert_eq!(
        moved["items"][1],
        json!({"location": "van", "sku": "apple-pie", "quantity": 2, "version": 1,
                                        "needsCount": false})
    );
    assert_eq!(app.write_items().await, vec![("store-1/apple-pie".into(), 4, 4), ("van/apple-pie".into(), 2, 1)]);
    let activity =
        wait_until(&app, "/api/activity?sku=apple-pie", |b| b["events"].as_array().unwrap().len() == 6).await;
    assert!(activity["events"].as_array().unwrap().iter().all(|e| e["sku"] == "apple-pie"), "{activity}");
}

/// `unknown-barcode`: a barcode no product has is refused with the barcode, and nothing is stored, not even the
/// command id: the same command sent again once the product has the barcode applies.
#[tokio::test]
async fn an_unknown_barcode_is_refused_and_the_same_command_applies_later() {
    let app = spawn_app().await;
    let held = scan("receive", EAN, 5);
    let problem = expect_problem(app.command(held.clone()).await, 409, "unknown-barcode").await;
    assert_eq!(problem["barcode"], EAN);
    assert_eq!(app.event_count().await, 0);
    assert!(app.write_items().await.is_empty());
    ok(app.command(define("apple-pie", &[EAN])).await).await;
    let applied = app.command(held.clone()).await;
    assert!(applied.headers().get("idempotent-replayed").is_none());
    assert_eq!(ok(applied).await["status"], "applied");
    let again = app.command(held).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true", "and is a duplicate after that");
    assert_eq!(ok(again).await["status"], "duplicate");
    assert_eq!(app.write_items().await, vec![("store-1/apple-pie".into(), 5, 1)]);
}

/// `barcode-taken`: a barcode names one sku; giving it to another product is refused with the barcode and its
/// owner, and changes nothing (that product is not defined, nor its other barcodes claimed).
#[tokio::test]
async fn a_barcode_of_another_product_is_refused() {
    let app = spawn_app().await;
    ok(app.command(define("apple-pie", &[EAN])).await).await;
    let problem = expect_problem(app.command(define("pork-pie", &["96385074", EAN])).await, 409, "barcode-taken").await;
    assert_eq!((&problem["barcode"], &problem["sku"]), (&json!(EAN), &json!("apple-pie")));
    assert_eq!(app.event_count().await, 1);
    expect_problem(app.command(scan("receive", "96385074", 1)).await, 409, "unknown-barcode").await;
}

/// A new list replaces a product's barcodes and releases those it leaves out; defining it without a list keeps
/// them. The summary and `?barcode=` follow.
#[tokio::test]
async fn a_new_list_replaces_the_barcodes_and_no_list_keeps_them() {
    let app = spawn_app().await;
    ok(app.command(define("apple-pie", &[EAN, UPC])).await).await;
    let renamed = json!({"commandId": id(), "type": "defineProduct", "sku": "apple-pie", "name": "Apple Pie"});
    assert_eq!(ok(app.command(renamed).await).await["product"]["barcodes"], json!([EAN, UPC]), "kept");
    let replaced = ok(app.command(define("apple-pie", &[UPC])).await).await;
    assert_eq!(replaced["product"]["barcodes"], json!([UPC]));
    ok(app.command(define("pork-pie", &[EAN])).await).await;
    ok(app.command(scan("receive", EAN, 3)).await).await;
    let summary = wait_until(&app, "/api/inventory/summary", |b| {
        b["products"].as_array().unwrap().iter().any(|p| p["sku"] == "pork-pie" && p["total"] == 3)
    })
    .await;
    let barcodes: Vec<(&Value, &Value)> =
        summary["products"].as_array().unwrap().iter().map(|p| (&p["sku"], &p["barcodes"])).collect();
    assert_eq!(barcodes, [(&json!("apple-pie"), &json!([UPC])), (&json!("pork-pie"), &json!([EAN]))]);
    let found = app.get_json(&format!("/api/inventory?barcode={EAN}")).await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    assert_eq!(found["items"][0]["sku"], "pork-pie");
}

/// `?barcode=`: an invalid GTIN is a 400 naming the parameter; a valid one no product has is an empty page.
#[tokio::test]
async fn the_inventory_filters_by_barcode() {
    let app = spawn_app().await;
    ok(app.command(define("apple-pie", &[UPC])).await).await;
    let stocked = ok(app.command(scan("receive", UPC, 4)).await).await;
    app.wait_for_item("store-1", "apple-pie", stocked["items"][0]["version"].as_u64().unwrap()).await;
    let found = app.get_json("/api/inventory?barcode=00036000291452").await;
    assert_eq!(found["items"][0]["sku"], "apple-pie", "{found}");
    let none = app.get_json("/api/inventory?barcode=96385074").await;
    assert_eq!(none["items"], json!([]));
    for bad in ["4006381333932", "4006", "abc"] {
        let problem =
            expect_problem(app.get(&format!("/api/inventory?barcode={bad}")).await, 400, "invalid-request").await;
        assert_eq!(problem["errors"][0]["field"], "barcode", "{bad}");
    }
}

/// Bad barcodes and sku/barcode mix-ups are 400s that name the field, and change nothing.
#[tokio::test]
async fn bad_barcodes_are_400s_that_name_the_field() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"commandId": id(), "type": "receive", "location": "a", "sku": "b", "barcode": EAN, "quantity": 1}),
            "barcode",
        ),
        (json!({"commandId": id(), "type": "receive", "location": "a", "quantity": 1}), "sku"),
        (
            json!({"commandId": id(), "type": "count", "location": "a", "barcode": "4006381333932", "quantity": 1}),
            "barcode",
        ),
        (
            json!({"commandId": id(), "type": "defineProduct", "sku": "b", "name": "B", "barcodes": [EAN, "12345"]}),
            "barcodes[1]",
        ),
        (json!({"commandId": id(), "type": "defineProduct", "sku": "b", "name": "B", "barcodes": EAN}), "barcodes"),
    ];
    for (body, field) in cases {
        let problem = expect_problem(app.command(body.clone()).await, 400, "invalid-request").await;
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    assert_eq!(app.event_count().await, 0);
}

/// In a batch each command stands alone: an unknown barcode is one rejected entry, the others apply.
#[tokio::test]
async fn a_batch_rejects_an_unknown_barcode_alone() {
    let app = spawn_app().await;
    let batch = json!({"commands": [define("apple-pie", &[EAN]), scan("receive", EAN, 2), scan("receive", UPC, 1)]});
    let results = ok(app.post_json("/api/commands/batch", &batch).await).await;
    assert_eq!(results["results"][1]["items"][0]["sku"], "apple-pie");
    assert_eq!(results["results"][2]["status"], "rejected");
    assert_eq!(results["results"][2]["problem"]["type"], "urn:pieshop:problem:unknown-barcode");
    assert_eq!(results["results"][2]["problem"]["barcode"], UPC);
}
