//! The Functions host boundary, fed with the protocol fixtures through the real routes, and the real binary
//! started the way the host starts it.

use std::process::Stdio;
use std::time::Duration;

use pieshop_testkit::process::{Process, answers, free_port};
use serde_json::{Value, json};

use crate::helpers::{fixture, id, receive, spawn_app};

/// The host's readiness probe: any answer to `GET /` means ready.
#[tokio::test]
async fn get_root_answers_at_once() {
    let app = spawn_app().await;
    assert_eq!(app.get("/").await.status(), 200);
}

/// A timer invocation (fixture d) gets the envelope the host expects back (shape of fixture r3).
#[tokio::test]
async fn the_relay_answers_a_timer_invocation_with_an_envelope() {
    let app = spawn_app().await;
    let response = app.post_json("/relay", &fixture("d-timer-request.json")).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let body: Value = response.json().await.unwrap();
    let expected = fixture("r3-timer-response-envelope.json");
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&body), keys(&expected));
    assert!(body["Outputs"].is_object() && body["Logs"].is_array() && body["ReturnValue"].is_null());
}

/// The fixtures' Contoso events (b: Event Grid schema, c: CloudEvents) are not pieshop events: they are
/// decoded through both string layers, recognised as another publisher's, acknowledged and counted as ignored.
/// They are events, so not malformed (API 1.2, "Event versions": only a body that is not an event at all is);
/// they are not pieshop's, so not kept back for a newer release either. A body that is no event is still malformed.
#[tokio::test]
async fn foreign_events_in_both_fixture_schemas_are_acknowledged_and_counted_as_ignored() {
    let app = spawn_app().await;
    for name in ["b-eventgrid-egschema-request.json", "c-eventgrid-cloudevent-request.json"] {
        let response = app.post_json("/projection", &fixture(name)).await;
        assert_eq!(response.status(), 200, "{name}");
        let body: Value = response.json().await.unwrap();
        let log = body["Logs"][0].as_str().unwrap();
        assert!(log.contains("ignored") && log.contains("Contoso.Orders.OrderPlaced"), "{body}");
    }
    let not_an_event = json!({"Data": {"eventGridEvent": "[1, 2]"}, "Metadata": {}});
    assert_eq!(app.post_json("/projection", &not_an_event).await.status(), 200);
    let health = app.get_json("/api/health").await;
    assert_eq!((&health["ignoredEvents"], &health["malformedEvents"]), (&json!(2), &json!(2)), "{health}");
}

/// A pieshop event wrapped exactly like fixture b/c (indented JSON, encoded twice) is applied once, whether it
/// is in CloudEvents or Event Grid schema; the second delivery is acknowledged as stale.
#[tokio::test]
async fn a_pieshop_event_in_the_hosts_encoding_is_applied_once() {
    let app = spawn_app().await;
    app.publisher_down.store(true, std::sync::atomic::Ordering::SeqCst);
    app.command(receive("store-1", "apple-pie", 9)).await;
    let event = app.store.events().await.unwrap().remove(0);
    for (name, encoded) in [
        ("c-eventgrid-cloudevent-request.json", pieshop::contract::event_json::to_cloud_event(&event)),
        ("b-eventgrid-egschema-request.json", pieshop::contract::event_json::to_event_grid(&event)),
    ] {
        let mut envelope = fixture(name);
        let indented = serde_json::to_string_pretty(&encoded).unwrap();
        envelope["Data"]["eventGridEvent"] = json!(serde_json::to_string(&indented).unwrap());
        let body: Value = app.post_json("/projection", &envelope).await.json().await.unwrap();
        let log = body["Logs"][0].as_str().unwrap().to_owned();
        let expected = if name.starts_with('c') { "projected" } else { "ignored stale" };
        assert!(log.starts_with(expected), "{name}: {log}");
    }
    assert_eq!(app.get_json("/api/inventory/store-1/apple-pie").await["quantity"], 9);
}

/// The event may also arrive as a plain object or a single string of JSON (other host versions).
#[tokio::test]
async fn an_event_as_an_object_or_a_single_string_is_applied() {
    let app = spawn_app().await;
    app.publisher_down.store(true, std::sync::atomic::Ordering::SeqCst);
    app.command(receive("store-1", "apple-pie", 1)).await;
    app.command(receive("store-1", "apple-pie", 1)).await;
    let events = app.store.events().await.unwrap();
    let object = pieshop::contract::event_json::to_cloud_event(&events[0]);
    let string = json!(pieshop::contract::event_json::to_cloud_event(&events[1]).to_string());
    for data in [object, string] {
        let envelope = json!({"Data": {"eventGridEvent": data}, "Metadata": {}});
        let body: Value = app.post_json("/projection", &envelope).await.json().await.unwrap();
        assert!(body["Logs"][0].as_str().unwrap().starts_with("projected"), "{body}");
    }
    assert_eq!(app.get_json("/api/inventory/store-1/apple-pie").await["version"], 2);
}

/// A batch as the host hands it to a `cardinality: many` trigger: the binding's value is a string of a JSON array
/// of strings, each an event as indented JSON (docs/protocol/eventgrid-batches.md). Both schemas: every event of
/// the batch is applied in one invocation, and the same batch again is acknowledged as stale.
#[tokio::test]
async fn a_batch_in_the_hosts_encoding_is_applied_in_both_schemas() {
    use pieshop::contract::event_json::{Schema, encode};
    for schema in [Schema::CloudEvents, Schema::EventGrid] {
        let app = spawn_app().await;
        app.publisher_down.store(true, std::sync::atomic::Ordering::SeqCst);
        for sku in ["apple-pie", "plum-pie", "pear-pie"] {
            app.command(receive("store-1", sku, 2)).await;
        }
        let events = app.store.events().await.unwrap();
        let texts: Vec<String> =
            events.iter().map(|e| serde_json::to_string_pretty(&encode(e, schema)).unwrap()).collect();
        let envelope = json!({"Data": {"eventGridEvent": serde_json::to_string(&texts).unwrap()},
                              "Metadata": {"sys": {"MethodName": "projection"}}});
        let body: Value = app.post_json("/projection", &envelope).await.json().await.unwrap();
        let logs: Vec<&str> = body["Logs"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert_eq!(logs.len(), 3, "{schema:?}: {body}");
        assert!(logs.iter().all(|l| l.starts_with("projected")), "{schema:?}: {logs:?}");
        for sku in ["apple-pie", "plum-pie", "pear-pie"] {
            assert_eq!(app.get_json(&format!("/api/inventory/store-1/{sku}")).await["quantity"], 2, "{sku}");
        }
        let again: Value = app.post_json("/projection", &envelope).await.json().await.unwrap();
        assert!(again["Logs"].as_array().unwrap().iter().all(|l| l.as_str().unwrap().starts_with("ignored stale")));
    }
}

/// Another publisher's event inside a batch does not hold the batch back: the batch is acknowledged, the pieshop
/// event beside it applied, the foreign one counted as ignored (not malformed, not retried).
#[tokio::test]
async fn a_foreign_event_in_a_batch_is_ignored_and_the_batch_acknowledged() {
    use pieshop::contract::event_json::to_cloud_event;
    let app = spawn_app().await;
    app.publisher_down.store(true, std::sync::atomic::Ordering::SeqCst);
    app.command(receive("store-1", "apple-pie", 5)).await;
    let events = app.store.events().await.unwrap();
    let foreign = json!({"specversion": "1.0", "id": id(), "source": "/contoso/orders", "type": "Contoso.Orders.OrderPlaced",
                         "time": "2026-12-03T00:00:00Z", "data": {"orderId": 7}});
    let batch = vec![foreign.to_string(), to_cloud_event(&events[0]).to_string()];
    let envelope = json!({"Data": {"eventGridEvent": serde_json::to_string(&batch).unwrap()}});
    let response = app.post_json("/projection", &envelope).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(body["Logs"][0].as_str().unwrap().starts_with("ignored: not a pieshop event"), "{body}");
    assert_eq!(app.get_json("/api/inventory/store-1/apple-pie").await["quantity"], 5);
    let health = app.get_json("/api/health").await;
    assert_eq!((&health["ignoredEvents"], &health["malformedEvents"]), (&json!(1), &json!(0)), "{health}");
}

/// An event a newer release wrote (data version 2, or a pieshop type this release lacks), alone or in a batch,
/// is not acknowledged: a 503, so Event Grid retries it; the batch's other events are applied all the same, and
/// nothing is counted as malformed.
#[tokio::test]
async fn an_event_of_a_newer_release_is_not_acknowledged_alone_or_in_a_batch() {
    use pieshop::contract::event_json::to_cloud_event;
    let app = spawn_app().await;
    app.publisher_down.store(true, std::sync::atomic::Ordering::SeqCst);
    app.command(receive("store-1", "apple-pie", 5)).await;
    app.command(receive("store-1", "plum-pie", 7)).await;
    let events = app.store.events().await.unwrap();
    let mut newer = to_cloud_event(&events[0]);
    newer["dataversion"] = json!("2");
    let mut new_type = to_cloud_event(&events[0]);
    new_type["type"] = json!("pieshop.StockReserved");
    for alone in [&newer, &new_type] {
        let envelope = json!({"Data": {"eventGridEvent": serde_json::to_string(&alone.to_string()).unwrap()}});
        let response = app.post_json("/projection", &envelope).await;
        assert_eq!(response.status(), 503, "{alone}");
        assert!(response.headers().contains_key("retry-after"));
    }
    let batch = vec![newer.to_string(), to_cloud_event(&events[1]).to_string()];
    let envelope = json!({"Data": {"eventGridEvent": serde_json::to_string(&batch).unwrap()}});
    assert_eq!(app.post_json("/projection", &envelope).await.status(), 503, "the batch fails whole");
    assert_eq!(app.get_json("/api/inventory/store-1/plum-pie").await["quantity"], 7, "its known event is applied");
    assert_eq!(app.get("/api/inventory/store-1/apple-pie").await.status(), 404, "the newer one is not");
    assert_eq!(app.get_json("/api/health").await["malformedEvents"], 0);
}

/// A broken envelope cannot be fixed by a retry: acknowledged with a log line, never a 4xx/5xx.
#[tokio::test]
async fn a_broken_envelope_is_acknowledged() {
    let app = spawn_app().await;
    let response = app.client.post(app.url("/projection")).body("{not json").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(body["Logs"][0].as_str().unwrap().contains("malformed"));
}

/// Started as the host starts it (`FUNCTIONS_CUSTOMHANDLER_PORT`), the real binary serves on 127.0.0.1 at
/// that port, answers the readiness probe, a forwarded command and a query.
#[tokio::test]
async fn the_binary_listens_where_the_host_says() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port("127.0.0.1");
    let _handler = Process::spawn(
        crate::helpers::handler_command()
            .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
            .env("PIESHOP_DATA_DIR", dir.path())
            .env("PIESHOP_LISTEN", "127.0.0.1:1")
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    assert!(answers(&client, &format!("{base}/"), Duration::from_secs(20)).await, "handler never answered GET /");
    let command =
        json!({"commandId": id(), "type": "receive", "location": "store-1", "sku": "apple-pie", "quantity": 2});
    let response = client.post(format!("{base}/api/commands")).json(&command).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let item = client.get(format!("{base}/api/inventory/store-1/apple-pie?minVersion=1")).send().await.unwrap();
    assert_eq!(item.json::<Value>().await.unwrap()["quantity"], 2);
}
