//! History and export (docs/API.md 1.2): `/api/activity` through the whole history with `cursor`, `from`, `to` and
//! `type`; CSV of the inventory, the summary and the activity, the whole filtered result as an attachment.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_problem, id, receive, remove, spawn_app};

/// Every page of `path` (which has a `limit`), following `nextCursor`; the entries under `member`.
async fn every_page(app: &TestApp, path: &str, member: &str) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let url = match &next {
            Some(cursor) => format!("{path}&cursor={cursor}"),
            None => path.to_owned(),
        };
        let page = app.get_json(&url).await;
        entries.extend(page[member].as_array().unwrap().iter().cloned());
        match page["nextCursor"].as_str() {
            Some(cursor) => next = Some(cursor.to_owned()),
            None => return entries,
        }
    }
}

async fn batch(app: &TestApp, commands: Vec<Value>) {
    let response = app.post_json("/api/commands/batch", &json!({"commands": commands})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert!(body["results"].as_array().unwrap().iter().all(|r| r["status"] == "applied"), "{body}");
}

/// Waits (long-polling, with a deadline) until the activity log holds `count` events.
async fn logged(app: &TestApp, count: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let newest = app.get("/api/activity?limit=1").await;
        let etag = newest.headers()["etag"].to_str().unwrap().to_owned();
        let all = every_page(app, "/api/activity?limit=500", "events").await;
        if all.len() == count {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "the log holds {} events, not {count}", all.len());
        app.get(&format!("/api/activity?limit=1&waitForChange={etag}&timeout=2")).await;
    }
}

/// The rows of a CSV answer, header first, as a client's CSV reader sees them.
fn rows(text: &str) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(text.as_bytes());
    reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect()
}

async fn csv_answer(app: &TestApp, path: &str, accept: Option<&str>) -> (reqwest::header::HeaderMap, String) {
    let mut request = app.client.get(app.url(path));
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8", "{path}");
    assert!(headers["content-disposition"].to_str().unwrap().starts_with("attachment; filename=\""), "{path}");
    assert!(headers.get("etag").is_none(), "an export has no ETag");
    (headers, response.text().await.unwrap())
}

#[tokio::test]
async fn an_items_whole_history_pages_past_the_newest_500_each_event_once() {
    let app = spawn_app().await;
    batch(&app, (0..500).map(|_| receive("store-1", "apple-pie", 1)).collect()).await;
    batch(&app, (0..20).map(|_| receive("store-1", "apple-pie", 1)).collect()).await;
    batch(&app, (0..5).map(|_| receive("van", "apple-pie", 1)).collect()).await;
    logged(&app, 525).await;

    let history = every_page(&app, "/api/activity?location=store-1&sku=apple-pie&limit=200", "events").await;
    let versions: Vec<u64> = history.iter().map(|e| e["version"].as_u64().unwrap()).collect();
    assert_eq!(versions, (1..=520).rev().collect::<Vec<_>>(), "the item's whole history, newest first, once each");
    let first = app.get_json("/api/activity?location=store-1&sku=apple-pie&limit=2").await;
    assert_eq!(first["events"].as_array().unwrap().len(), 2);
    let cursor = first["nextCursor"].as_str().unwrap();
    let second = app.get_json(&format!("/api/activity?location=store-1&sku=apple-pie&limit=2&cursor={cursor}")).await;
    assert_eq!(
        (second["events"][0]["version"].as_u64(), second["events"][1]["version"].as_u64()),
        (Some(518), Some(517))
    );
    let last = app.get_json("/api/activity?location=van&limit=5").await;
    assert!(last["nextCursor"].is_null(), "a page that ends the history has no cursor: {last}");
}

#[tokio::test]
async fn activity_filters_by_type_in_either_name_and_by_time() {
    let app = spawn_app().await;
    app.command(receive("store-1", "apple-pie", 10)).await;
    app.command(remove("store-1", "apple-pie", 2)).await;
    app.command(json!({"commandId": id(), "type": "count", "location": "store-1", "sku": "apple-pie", "quantity": 7}))
        .await;
    app.command(json!({"commandId": id(), "type": "defineProduct", "sku": "apple-pie", "name": "Apple Pie"})).await;
    logged(&app, 4).await;

    let types = |body: &Value| -> Vec<String> {
        body["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap().to_owned()).collect()
    };
    for path in ["/api/activity?type=StockRemoved", "/api/activity?type=pieshop.StockRemoved"] {
        assert_eq!(types(&app.get_json(path).await), ["pieshop.StockRemoved"], "{path}");
    }
    for path in ["/api/activity?type=StockReceived,StockCounted", "/api/activity?type=StockReceived&type=StockCounted"]
    {
        assert_eq!(types(&app.get_json(path).await), ["pieshop.StockCounted", "pieshop.StockReceived"], "{path}");
    }
    assert_eq!(types(&app.get_json("/api/activity?type=ProductDefined").await), ["pieshop.ProductDefined"]);

    let all = app.get_json("/api/activity").await;
    let at = |n: usize| all["events"][n]["recordedAt"].as_str().unwrap().to_owned();
    let (newest, second) = (at(0), at(1));
    let window = app.get_json(&format!("/api/activity?from={second}&to={newest}")).await;
    assert_eq!(window["events"].as_array().unwrap().len(), 1, "from inclusive, to exclusive");
    assert_eq!(window["events"][0]["recordedAt"], second.as_str());
    let since = app.get_json(&format!("/api/activity?from={second}")).await;
    assert_eq!(since["events"].as_array().unwrap().len(), 2);
    // An offset's `+` sent unescaped arrives as a space; it is read as the `+` it was.
    let offset = second.replace('Z', "+00:00");
    let unescaped = app.get_json(&format!("/api/activity?from={offset}")).await;
    assert_eq!(unescaped["events"], since["events"]);
}

#[tokio::test]
async fn bad_history_parameters_are_a_400_naming_the_parameter() {
    let app = spawn_app().await;
    app.command(receive("store-1", "apple-pie", 1)).await;
    app.command(receive("store-1", "apple-pie", 1)).await;
    logged(&app, 2).await;
    let inventory = app.get_json("/api/inventory?limit=1").await;
    let activity = app.get_json("/api/activity?limit=1").await;
    let foreign = inventory["nextCursor"].as_str().unwrap_or("WyJhIiwiYSJd");
    let cases = [
        ("/api/activity?cursor=garbage".to_owned(), "cursor"),
        (format!("/api/activity?cursor={foreign}"), "cursor"),
        (format!("/api/inventory?cursor={}", activity["nextCursor"].as_str().unwrap()), "cursor"),
        ("/api/activity?from=yesterday".to_owned(), "from"),
        ("/api/activity?to=2026-13-01T00:00:00Z".to_owned(), "to"),
        ("/api/activity?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z".to_owned(), "to"),
        ("/api/activity?from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z".to_owned(), "to"),
        ("/api/activity?type=StockStolen".to_owned(), "type"),
        ("/api/activity?type=StockReceived,stockremoved".to_owned(), "type"),
        ("/api/activity?format=xlsx".to_owned(), "format"),
        ("/api/inventory?format=pdf".to_owned(), "format"),
        ("/api/inventory/summary?format=CSV".to_owned(), "format"),
    ];
    for (path, field) in cases {
        let body = expect_problem(app.get(&path).await, 400, "invalid-request").await;
        assert_eq!(body["errors"][0]["field"], field, "{path}: {body}");
    }
    let body = expect_problem(app.get("/api/activity?type=Nope").await, 400, "invalid-request").await;
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("pieshop.StockReceived"), "names the known types");
}

#[tokio::test]
async fn csv_exports_are_the_whole_filtered_result_quoted_as_rfc_4180_says() {
    let app = spawn_app().await;
    let tricky = "Pie, \"Bramley\" & co";
    app.command(
        json!({"commandId": id(), "type": "defineProduct", "sku": "apple-pie", "name": tricky, "reorderLevel": 5,
            "barcodes": ["5012345678900", "96385074"]}),
    )
    .await;
    app.command(json!({"commandId": id(), "type": "defineProduct", "sku": "evil-pie", "name": "=HYPERLINK(\"x\")"}))
        .await;
    let mut commands: Vec<Value> = (0..120).map(|n| receive(&format!("shop-{n:03}"), "apple-pie", 3)).collect();
    commands.push(receive("van", "evil-pie", 1));
    commands.push(remove("shop-000", "apple-pie", 1));
    batch(&app, commands).await;
    logged(&app, 124).await;

    let json_items = every_page(&app, "/api/inventory?limit=50", "items").await;
    let (headers, text) = csv_answer(&app, "/api/inventory", Some("text/csv")).await;
    assert_eq!(headers["content-disposition"], "attachment; filename=\"inventory.csv\"");
    assert!(text.ends_with("\r\n") && !text.starts_with('\u{feff}'), "CRLF line ends, no byte-order mark");
    let inventory = rows(&text);
    assert_eq!(
        inventory[0],
        ["location", "sku", "name", "quantity", "version", "reorderLevel", "low", "needsCount", "updatedAt"]
    );
    assert_eq!(inventory.len() - 1, json_items.len(), "one row per item, every page of them");
    assert_eq!(json_items.len(), 121);
    let shop_0 = inventory.iter().find(|r| r[0] == "shop-000").unwrap();
    assert_eq!(shop_0[2], tricky, "a name with a comma and quotes reads back whole");
    assert_eq!((shop_0[3].as_str(), shop_0[4].as_str(), shop_0[6].as_str()), ("2", "2", "true"));
    assert!(text.contains("\"Pie, \"\"Bramley\"\" & co\""), "quoted, quotes doubled");
    let evil = inventory.iter().find(|r| r[1] == "evil-pie").unwrap();
    assert_eq!(evil[2], "'=HYPERLINK(\"x\")", "a formula is defused");

    let (_, filtered) = csv_answer(&app, "/api/inventory?sku=evil-pie&format=csv", None).await;
    assert_eq!(rows(&filtered).len(), 2, "filters apply: header and one row");

    let (headers, text) = csv_answer(&app, "/api/inventory/summary?format=csv", None).await;
    assert_eq!(headers["content-disposition"], "attachment; filename=\"inventory-summary.csv\"");
    let summary = rows(&text);
    assert_eq!(summary[0], ["sku", "name", "location", "quantity", "total", "reorderLevel", "low", "barcodes"]);
    assert_eq!(summary.len() - 1, 121, "one row per product and location");
    let apple: Vec<&Vec<String>> = summary.iter().filter(|r| r[0] == "apple-pie").collect();
    assert!(apple.iter().all(|r| r[1] == tricky && r[4] == "359" && r[5] == "5" && r[6] == "false"));
    assert!(apple.iter().all(|r| r[7] == "5012345678900 96385074"), "the barcodes as given, space-separated");
    assert!(summary.iter().filter(|r| r[0] == "evil-pie").all(|r| r[7].is_empty()), "none: an empty field");

    let events = every_page(&app, "/api/activity?limit=50", "events").await;
    let (headers, text) = csv_answer(&app, "/api/activity", Some("text/csv, */*;q=0.1")).await;
    assert_eq!(headers["content-disposition"], "attachment; filename=\"activity.csv\"");
    let activity = rows(&text);
    assert_eq!(activity.len() - 1, events.len(), "one row per event");
    assert_eq!(activity[0][0], "eventId");
    let ids: Vec<&str> = activity[1..].iter().map(|r| r[0].as_str()).collect();
    let json_ids: Vec<&str> = events.iter().map(|e| e["eventId"].as_str().unwrap()).collect();
    assert_eq!(ids, json_ids, "the same events in the same order as the JSON pages");
    let (_, removals) = csv_answer(&app, "/api/activity?type=StockRemoved&format=csv", None).await;
    let removals = rows(&removals);
    assert_eq!(removals.len(), 2);
    let column = |name: &str| activity[0].iter().position(|c| c == name).unwrap();
    assert_eq!((removals[1][column("delta")].as_str(), removals[1][column("reason")].as_str()), ("-1", "sold"));

    let json = app.client.get(app.url("/api/activity")).header("accept", "*/*").send().await.unwrap();
    assert!(json.headers()["content-type"].to_str().unwrap().starts_with("application/json"), "*/* is JSON");
    assert_eq!(json.headers()["vary"], "Accept");
}
