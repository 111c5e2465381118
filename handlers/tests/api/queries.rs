//! The query contract of docs/API.md: filters, search, paging, summary, activity, ETags and waiting.

use serde_json::{Value, json};

use crate::helpers::{TestApp, id, receive, spawn_app, wait_until};

/// Seeds stock and waits until every item is visible in the read model.
async fn seeded() -> TestApp {
    let app = spawn_app().await;
    let stock = [
        ("store-1", "apple-pie", 12),
        ("store-2", "apple-pie", 3),
        ("store-1", "pork-pie", 7),
        ("van", "custard-tart", 1),
        ("back-room", "scotch-egg", 30),
    ];
    for (location, sku, quantity) in stock {
        app.command(receive(location, sku, quantity)).await;
    }
    app.command(json!({"commandId": id(), "type": "defineProduct", "sku": "pork-pie", "name": "Melton Mowbray Pork Pie", "reorderLevel": 10})).await;
    for (location, sku, _) in stock {
        app.wait_for_item(location, sku, 1).await;
    }
    wait_until(&app, "/api/inventory?lowStock=true", |v| v["items"].as_array().unwrap().len() == 1).await;
    app
}

fn keys(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| format!("{}/{}", i["location"].as_str().unwrap(), i["sku"].as_str().unwrap()))
        .collect()
}

#[tokio::test]
async fn inventory_is_sorted_by_sku_then_location_and_filters() {
    let app = seeded().await;
    let all = app.get_json("/api/inventory").await;
    assert_eq!(
        keys(&all),
        ["store-1/apple-pie", "store-2/apple-pie", "van/custard-tart", "store-1/pork-pie", "back-room/scotch-egg"]
    );
    assert!(all["asOf"].is_string());
    assert_eq!(keys(&app.get_json("/api/inventory?location=store-1").await), ["store-1/apple-pie", "store-1/pork-pie"]);
    assert_eq!(keys(&app.get_json("/api/inventory?sku=apple-pie").await), ["store-1/apple-pie", "store-2/apple-pie"]);
    let low = app.get_json("/api/inventory?lowStock=true").await;
    assert_eq!(keys(&low), ["store-1/pork-pie"]);
    assert_eq!(low["items"][0]["reorderLevel"], 10);
}

#[tokio::test]
async fn search_matches_product_names_and_skus_by_word_prefix() {
    let app = seeded().await;
    assert_eq!(keys(&app.get_json("/api/inventory?q=melton").await), ["store-1/pork-pie"]);
    assert_eq!(keys(&app.get_json("/api/inventory?q=cust").await), ["van/custard-tart"]);
    assert_eq!(keys(&app.get_json("/api/inventory?q=pie&location=store-2").await), ["store-2/apple-pie"]);
    assert_eq!(
        keys(&app.get_json("/api/inventory?q=%22%20OR%20*").await),
        Vec::<String>::new(),
        "syntax is not a query language"
    );
}

#[tokio::test]
async fn paging_with_cursors_visits_every_item_once() {
    let app = seeded().await;
    let mut seen = Vec::new();
    let mut path = "/api/inventory?limit=2".to_owned();
    loop {
        let page = app.get_json(&path).await;
        seen.extend(keys(&page));
        match page["nextCursor"].as_str() {
            Some(cursor) => path = format!("/api/inventory?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, keys(&app.get_json("/api/inventory").await));
}

#[tokio::test]
async fn the_summary_totals_each_product_and_location() {
    let app = seeded().await;
    let summary = app.get_json("/api/inventory/summary").await;
    let apple = summary["products"].as_array().unwrap().iter().find(|p| p["sku"] == "apple-pie").unwrap().clone();
    assert_eq!(apple["total"], 15);
    assert_eq!(apple["byLocation"], json!({"store-1": 12, "store-2": 3}));
    let store_1 = summary["locations"].as_array().unwrap().iter().find(|l| l["location"] == "store-1").unwrap().clone();
    assert_eq!((store_1["total"].clone(), store_1["skus"].clone()), (json!(19), json!(2)));
    let pork = summary["products"].as_array().unwrap().iter().find(|p| p["sku"] == "pork-pie").unwrap().clone();
    assert_eq!((pork["name"].clone(), pork["low"].clone()), (json!("Melton Mowbray Pork Pie"), json!(true)));
}

#[tokio::test]
async fn activity_lists_events_newest_first_with_filters() {
    let app = seeded().await;
    app.command(json!({"commandId": id(), "type": "remove", "location": "store-1", "sku": "apple-pie", "quantity": 2,
                       "reason": "wasted", "scannerId": "till-3"}))
        .await;
    app.wait_for_item("store-1", "apple-pie", 2).await;
    let activity = app.get_json("/api/activity?sku=apple-pie&limit=2").await;
    let first = &activity["events"][0];
    assert_eq!(
        (first["type"].clone(), first["delta"].clone(), first["quantity"].clone()),
        (json!("pieshop.StockRemoved"), json!(-2), json!(10))
    );
    assert_eq!((first["reason"].clone(), first["scannerId"].clone()), (json!("wasted"), json!("till-3")));
    assert_eq!(activity["events"].as_array().unwrap().len(), 2);
    let van = app.get_json("/api/activity?location=van").await;
    assert_eq!(van["events"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_matching_if_none_match_gets_304_without_a_body() {
    let app = seeded().await;
    for path in ["/api/inventory", "/api/inventory/summary", "/api/activity", "/api/inventory/van/custard-tart"] {
        let first = app.get(path).await;
        let etag = first.headers()["etag"].to_str().unwrap().to_owned();
        let again = app.client.get(app.url(path)).header("if-none-match", &etag).send().await.unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert!(again.bytes().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn wait_for_change_returns_when_the_answer_changes() {
    let app = seeded().await;
    let etag = app.get("/api/inventory/summary").await.headers()["etag"].to_str().unwrap().to_owned();
    let path = format!("/api/inventory/summary?waitForChange={etag}&timeout=30");
    let waiting = app.get(&path);
    let writer = async {
        app.command(receive("van", "custard-tart", 5)).await;
    };
    let (response, ()) = tokio::join!(waiting, writer);
    assert_eq!(response.status(), 200);
    assert_ne!(response.headers()["etag"].to_str().unwrap(), etag);
}

#[tokio::test]
async fn wait_for_change_answers_304_when_nothing_changes() {
    let app = seeded().await;
    let etag = app.get("/api/inventory").await.headers()["etag"].to_str().unwrap().to_owned();
    let response = app.get(&format!("/api/inventory?waitForChange={etag}&timeout=1")).await;
    assert_eq!(response.status(), 304);
}

#[tokio::test]
async fn min_version_waits_for_the_clients_own_write() {
    let app = seeded().await;
    let answer: Value = app.command(receive("van", "custard-tart", 5)).await.json().await.unwrap();
    let version = answer["items"][0]["version"].as_u64().unwrap();
    let item = app.get_json(&format!("/api/inventory/van/custard-tart?minVersion={version}")).await;
    assert_eq!((item["version"].as_u64().unwrap(), item["quantity"].clone()), (version, json!(6)));
}

#[tokio::test]
async fn an_unreached_min_version_answers_what_it_has_marked_stale() {
    let app = seeded().await;
    let response = app.get("/api/inventory/van/custard-tart?minVersion=99&timeout=1").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-stale"], "true");
    assert_eq!(response.json::<Value>().await.unwrap()["version"], 1);
}

#[tokio::test]
async fn health_names_the_backend() {
    let app = spawn_app().await;
    let health = app.get_json("/api/health").await;
    assert_eq!((health["status"].clone(), health["backend"].clone()), (json!("ok"), json!("embedded")));
}

/// Data that cannot be read back is the server's fault and retrying will not help: 500, not the 503 an outage
/// gets (on every adapter alike), and the answer tells nothing of the row.
#[tokio::test]
async fn a_row_that_cannot_be_read_back_is_a_500_not_a_503() {
    let app = spawn_app().await;
    app.command(receive("store-1", "apple-pie", 4)).await;
    app.wait_for_item("store-1", "apple-pie", 1).await;
    let read_db = rusqlite::Connection::open(app.data_dir().join("read.db")).expect("read.db");
    read_db.execute("UPDATE items SET updated_at = 'not a time'", []).expect("damaged");
    let response = app.get("/api/inventory/store-1/apple-pie").await;
    let body = crate::helpers::expect_problem(response, 500, "internal").await;
    assert!(!body.to_string().contains("not a time"), "no internals in the answer: {body}");
}
