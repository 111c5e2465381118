//! The operator commands of the real binary (`handler verify | rebuild | relay`), run against the data
//! directory of a live standalone server.

use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn handler(dir: &std::path::Path, args: &[&str]) -> Output {
    crate::helpers::handler_command().args(args).env("PIESHOP_DATA_DIR", dir).env("RUST_LOG", "warn").output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn verify_finds_drift_that_rebuild_repairs_while_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = crate::helpers::handler_command()
        .env("PIESHOP_DATA_DIR", dir.path())
        .env("PIESHOP_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _server = Server(child);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while client.get(format!("{base}/api/health")).send().await.is_err() {
        assert!(Instant::now() < deadline, "server never started");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
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
