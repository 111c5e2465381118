//! The operator commands of the real binary (`handler verify | rebuild | relay`), run against the data
//! directory of a live standalone server.

use std::process::{Output, Stdio};
use std::time::Duration;

use pieshop_testkit::process::Standalone;
use serde_json::{Value, json};

fn handler(dir: &std::path::Path, args: &[&str]) -> Output {
    crate::helpers::handler_command().args(args).env("PIESHOP_DATA_DIR", dir).env("RUST_LOG", "warn").output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn verify_finds_drift_that_rebuild_repairs_while_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let server = Standalone::spawn(
        crate::helpers::handler_command()
            .env("PIESHOP_DATA_DIR", dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        "127.0.0.1",
    );
    assert!(server.ready(Duration::from_secs(20)).await, "server never started");
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let mut version = 0;
    for (location, quantity) in [("store-1", 5), ("store-2", 7), ("store-1", 2)] {
        let command = json!({"commandId": uuid::Uuid::new_v4().to_string(), "type": "receive", "location": location, "sku": "apple-pie", "quantity": quantity});
        let answer: Value =
            client.post(format!("{base}/api/commands")).json(&command).send().await.unwrap().json().await.unwrap();
        version = answer["items"][0]["version"].as_u64().unwrap();
    }
    let item = client.get(format!("{base}/api/inventory/store-1/apple-pie?minVersion={version}")).send().await.unwrap();
    assert!(item.headers().get("x-stale").is_none());
    let caught_up = client.get(format!("{base}/api/inventory/store-2/apple-pie?minVersion=1")).send().await.unwrap();
    assert!(caught_up.headers().get("x-stale").is_none());

    let clean = handler(dir.path(), &["verify"]);
    assert!(clean.status.success(), "{}", stdout(&clean));
    assert!(stdout(&clean).contains("verify: 0 difference(s)"));

    // Damage the read model behind the system's back.
    let read = rusqlite::Connection::open(dir.path().join("read.db")).unwrap();
    read.execute("UPDATE items SET quantity = 999 WHERE location = 'store-2'", []).unwrap();
    read.execute("INSERT INTO items VALUES ('ghost-pie', 'van', 1, 1, '2026-01-01T00:00:00.000000Z')", []).unwrap();
    drop(read);
    let drifted = handler(dir.path(), &["verify"]);
    assert_eq!(drifted.status.code(), Some(1));
    let report = stdout(&drifted);
    assert!(
        report.contains("store-2/apple-pie: write model quantity 7 at v1, read model quantity 999 at v1"),
        "{report}"
    );
    assert!(report.contains("van/ghost-pie: write model missing"), "{report}");

    let rebuilt = handler(dir.path(), &["rebuild"]);
    assert!(rebuilt.status.success(), "{}", String::from_utf8_lossy(&rebuilt.stderr));
    assert!(stdout(&rebuilt).contains("replayed 3 events"));
    assert!(handler(dir.path(), &["verify"]).status.success());
    let served: Value =
        client.get(format!("{base}/api/inventory/store-2/apple-pie")).send().await.unwrap().json().await.unwrap();
    assert_eq!(served["quantity"], 7, "the running server answers from the rebuilt read model");

    let relay = handler(dir.path(), &["relay"]);
    assert!(relay.status.success());
    assert!(stdout(&relay).starts_with("relay: republished"));
}

/// Events committed but not yet delivered are in flight, not drift; a product the read model names wrongly is.
#[tokio::test]
async fn verify_tolerates_events_in_flight_and_checks_products() {
    let app = crate::helpers::spawn_app().await;
    app.command(crate::helpers::receive("store-1", "apple-pie", 5)).await;
    let define = json!({"commandId": uuid::Uuid::new_v4().to_string(), "type": "defineProduct", "sku": "apple-pie",
                        "name": "Apple Pie", "reorderLevel": 3});
    app.command(define).await;
    crate::helpers::wait_until(&app, "/api/inventory/summary", |s| s["products"][0]["name"] == "Apple Pie").await;
    app.publisher_down.store(true, std::sync::atomic::Ordering::SeqCst);
    app.command(crate::helpers::receive("store-1", "apple-pie", 2)).await;

    let in_flight = handler(app.data_dir(), &["verify"]);
    assert!(in_flight.status.success(), "{}", stdout(&in_flight));
    assert!(stdout(&in_flight).contains("in flight: store-1/apple-pie"), "{}", stdout(&in_flight));
    assert!(stdout(&in_flight).contains("verify: 0 difference(s), 1 in flight"), "{}", stdout(&in_flight));

    let read = rusqlite::Connection::open(app.data_dir().join("read.db")).unwrap();
    read.execute("UPDATE products SET name = 'Plum Pie' WHERE sku = 'apple-pie'", []).unwrap();
    drop(read);
    let drifted = handler(app.data_dir(), &["verify"]);
    assert_eq!(drifted.status.code(), Some(1));
    let expected = r#"drift: product apple-pie: write model "Apple Pie", reorder level Some(3), read model "Plum Pie""#;
    assert!(stdout(&drifted).contains(expected), "{}", stdout(&drifted));
}

/// The daily `verify` timer function answers the host with its report in the invocation's logs.
#[tokio::test]
async fn the_verify_timer_function_reports_in_its_logs() {
    let app = crate::helpers::spawn_app().await;
    app.command(crate::helpers::receive("store-1", "apple-pie", 5)).await;
    app.wait_for_item("store-1", "apple-pie", 1).await;
    let response = app.post_json("/verify", &crate::helpers::fixture("d-timer-request.json")).await;
    assert_eq!(response.status(), 200);
    let envelope: Value = response.json().await.unwrap();
    let logs: Vec<&str> = envelope["Logs"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    assert_eq!(logs, ["verify: 0 difference(s), 0 in flight"], "{envelope}");
}

/// A movement missing from an item's ledger (a record the write model would no longer account for) is drift.
#[tokio::test]
async fn verify_finds_an_item_whose_ledger_lost_a_movement() {
    let dir = tempfile::tempdir().unwrap();
    let app = pieshop::wiring::embedded(dir.path()).unwrap().app(Duration::ZERO);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(pieshop::wiring::serve(listener, app, std::future::pending()));
    let client = reqwest::Client::new();
    for (quantity, at) in [(5, "2026-03-02T10:00:00Z"), (3, "2026-03-02T11:00:00Z")] {
        let record = json!({"commandId": uuid::Uuid::new_v4().to_string(), "type": "receive", "location": "van",
                            "sku": "apple-pie", "quantity": quantity, "occurredAt": at});
        assert_eq!(client.post(format!("{base}/api/commands")).json(&record).send().await.unwrap().status(), 200);
    }
    let clean = handler(dir.path(), &["verify"]);
    assert!(clean.status.success(), "{}", stdout(&clean));

    let write = rusqlite::Connection::open(dir.path().join("write.db")).unwrap();
    assert_eq!(write.execute("DELETE FROM movements WHERE delta = 3", []).unwrap(), 1);
    drop(write);
    let drifted = handler(dir.path(), &["verify"]);
    assert_eq!(drifted.status.code(), Some(1), "{}", stdout(&drifted));
    assert!(stdout(&drifted).contains("van/apple-pie ledger: write model quantity 8 at v2, read model ledger 0 + 5"));
}
