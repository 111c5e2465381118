//! Event Grid's batched delivery through the deployed shape: a subscription with `maxEventsPerBatch` in front of
//! the projection with `cardinality: many` (one invocation per delivery, applied as one read-model write) and
//! without it (one invocation per event of the delivery), in both schemas; and a batch holding an event of a
//! newer release, failed whole, retried and dead-lettered as one blob, its known events applied all the same.

// The deployed-shape harness, shared with `deployed.rs`; not every helper is used here.
#[allow(dead_code)]
mod shape;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shape::{Options, Shape, engine, id, receive};

/// A v1 `StockReceived` as pieshop publishes it, in either schema: the item at `version` holding `quantity`.
fn stock_event(cloud_events: bool, sku: &str, quantity: u64, version: u64, data_version: &str) -> Value {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let data = json!({"location": "store-1", "sku": sku, "delta": 1, "amount": 1, "outcome": "applied",
                      "quantity": quantity, "version": version, "commandId": id(), "recordedAt": now});
    let subject = format!("store-1/{sku}");
    if cloud_events {
        json!({"specversion": "1.0", "id": id(), "source": "/pieshop/inventory", "subject": subject,
               "type": "pieshop.StockReceived", "time": now, "datacontenttype": "application/json",
               "dataversion": data_version, "data": data})
    } else {
        json!({"id": id(), "subject": subject, "eventType": "pieshop.StockReceived", "eventTime": now,
               "data": data, "dataVersion": data_version})
    }
}

async fn publish(shape: &Shape, cloud_events: bool, events: &[Value]) {
    let content_type = if cloud_events { "application/cloudevents-batch+json" } else { "application/json" };
    let response = shape
        .client
        .post(shape.url("/eventgrid/api/events?api-version=2018-01-01"))
        .header("aeg-sas-key", format!("{}-topic", shape::MASTER))
        .header("content-type", content_type)
        .body(serde_json::to_vec(events).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
}

/// Event Grid's counts: published, acknowledged, dead-lettered, deliveries, invocations.
async fn counts(shape: &Shape) -> Value {
    shape.client.get(shape.url("/funchost/events/summary")).send().await.unwrap().json().await.unwrap()
}

/// Every item one instance's read model shows: sku → (quantity, version).
async fn read_items(shape: &Shape, instance: usize) -> BTreeMap<String, (u64, u64)> {
    let body: Value = shape.get("/api/inventory?limit=500", instance, None).await.json().await.unwrap();
    let items = body["items"].as_array().unwrap().iter();
    items
        .map(|i| {
            (i["sku"].as_str().unwrap().to_owned(), (i["quantity"].as_u64().unwrap(), i["version"].as_u64().unwrap()))
        })
        .collect()
}

/// Waits until every instance's read model shows exactly `expected`.
async fn converge(shape: &Shape, expected: &BTreeMap<String, (u64, u64)>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    for instance in 0..2 {
        loop {
            let read = read_items(shape, instance).await;
            if &read == expected {
                break;
            }
            assert!(Instant::now() < deadline, "instance {instance}: {read:?} != {expected:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Waits until funchost has delivered every published event and nothing is in flight.
async fn settled(shape: &Shape) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let summary = counts(shape).await;
        if summary["acknowledged"] == summary["published"] {
            return summary;
        }
        assert!(Instant::now() < deadline, "never all acknowledged: {summary}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// 50 items × 5 versions, shuffled, in one publish: with one delivery in flight at a time and 100 events per
/// batch, exactly 3 deliveries of 100, 100 and 50, each one invocation; the read models hold every item's newest
/// version whatever order the batch had. Then the instances' own publishes (every command's event) converge too.
async fn batches_converge(cloud_events: bool, elasticsearch: Option<String>) {
    let args =
        ["--max-events-per-batch", "100", "--preferred-batch-size-kb", "1024", "--max-deliveries-in-flight", "1"];
    let schema = if cloud_events { "cloudevents" } else { "eventgrid" };
    let options = Options {
        instances: 2,
        elasticsearch,
        args: args.iter().map(|a| a.to_string()).collect(),
        env: vec![("EVENTGRID_SCHEMA".into(), schema.into())],
        ..Default::default()
    };
    let shape = Shape::start(options).await;
    let mut events = Vec::new();
    let mut expected = BTreeMap::new();
    for item in 0..50u64 {
        let sku = format!("pie-{item}");
        for version in 1..=5 {
            events.push(stock_event(cloud_events, &sku, item * 10 + version, version, "1"));
        }
        expected.insert(sku, (item * 10 + 5, 5));
    }
    use rand::seq::SliceRandom;
    events.shuffle(&mut rand::rng());
    publish(&shape, cloud_events, &events).await;
    let summary = settled(&shape).await;
    assert_eq!((summary["deliveries"].as_u64(), summary["invocations"].as_u64()), (Some(3), Some(3)), "{summary}");
    converge(&shape, &expected).await;

    let commands = (0..20u64).map(|n| {
        let shape = &shape;
        async move {
            let body = receive("store-1", &format!("real-{}", n % 4), 1);
            let response = shape.command(&body, Some(n as usize % 2)).await;
            assert_eq!(response.status(), 200);
        }
    });
    futures::future::join_all(commands).await;
    for item in 0..4u64 {
        expected.insert(format!("real-{item}"), (5, 5));
    }
    settled(&shape).await;
    converge(&shape, &expected).await;
    assert!(shape.events().await.iter().all(|e| e["deadLettered"].is_null()), "nothing dead-lettered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_in_cloud_events_are_one_invocation_each_and_converge() {
    batches_converge(true, engine("ELASTICSEARCH_URL")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_in_event_grid_schema_are_one_invocation_each_and_converge() {
    batches_converge(false, None).await;
}

/// The repository's app with the projection's trigger declared without `cardinality` (one event per invocation).
fn app_without_cardinality(dir: &Path) {
    let root = shape::repository_app();
    std::fs::copy(root.join("host.json"), dir.join("host.json")).unwrap();
    for entry in std::fs::read_dir(root.join("functions")).unwrap() {
        let entry = entry.unwrap();
        let folder = dir.join("functions").join(entry.file_name());
        std::fs::create_dir_all(&folder).unwrap();
        let mut function: Value =
            serde_json::from_slice(&std::fs::read(entry.path().join("function.json")).unwrap()).unwrap();
        for binding in function["bindings"].as_array_mut().unwrap() {
            binding.as_object_mut().unwrap().remove("cardinality");
        }
        std::fs::write(folder.join("function.json"), function.to_string()).unwrap();
    }
}

/// Without `cardinality: many` the host invokes once per event of a delivery: one delivery of 30 events is 30
/// invocations, all acknowledged together, and the read models converge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_cardinality_many_a_batch_is_one_invocation_per_event() {
    let app = tempfile::tempdir().unwrap();
    app_without_cardinality(app.path());
    let args = ["--max-events-per-batch", "100", "--max-deliveries-in-flight", "1"];
    let options = Options {
        instances: 2,
        args: args.iter().map(|a| a.to_string()).collect(),
        app: Some(app.path().to_path_buf()),
        ..Default::default()
    };
    let shape = Shape::start(options).await;
    let events: Vec<Value> = (0..30u64).map(|n| stock_event(true, &format!("pie-{n}"), n + 1, 1, "1")).collect();
    publish(&shape, true, &events).await;
    let summary = settled(&shape).await;
    assert_eq!((summary["deliveries"].as_u64(), summary["invocations"].as_u64()), (Some(1), Some(30)), "{summary}");
    let expected = (0..30u64).map(|n| (format!("pie-{n}"), (n + 1, 1))).collect();
    converge(&shape, &expected).await;
}

/// Deliveries held (`{"paused": true}`, as the bench holds a backlog): events published in five requests
/// meanwhile stay queued, and once released leave together, as one delivery and one invocation, and apply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_backlog_leaves_in_one_batch_once_released() {
    let args = ["--max-events-per-batch", "100", "--max-deliveries-in-flight", "1"];
    let options = Options { instances: 2, args: args.iter().map(|a| a.to_string()).collect(), ..Default::default() };
    let shape = Shape::start(options).await;
    let hold = |body: Value| {
        let request = shape.client.put(shape.url("/funchost/faults")).header("x-functions-key", shape::MASTER);
        async move { assert_eq!(request.json(&body).send().await.unwrap().status(), 204) }
    };
    hold(json!({"paused": true})).await;
    let events: Vec<Value> = (0..25u64).map(|n| stock_event(true, &format!("pie-{n}"), n + 1, 1, "1")).collect();
    for chunk in events.chunks(5) {
        publish(&shape, true, chunk).await;
    }
    assert_eq!(counts(&shape).await["deliveries"], 0, "nothing leaves while held");
    hold(json!({})).await;
    let summary = settled(&shape).await;
    assert_eq!((summary["deliveries"].as_u64(), summary["invocations"].as_u64()), (Some(1), Some(1)), "{summary}");
    let expected = (0..25u64).map(|n| (format!("pie-{n}"), (n + 1, 1))).collect();
    converge(&shape, &expected).await;
}

/// A batch with one event of a newer release (data version 2) in it: every delivery of it fails whole (the
/// projection answers 503), so it is retried and finally dead-lettered as one blob in Event Grid's layout; its
/// two known events are in the read model all the same. This release's `handler deadletters replay` then finds
/// them already there and leaves the blob in place for a newer release (exit 1); `handlers/tests/api/
/// deadletters.rs` shows the newer reader applying such a blob.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_with_an_event_of_a_newer_release_fails_whole_and_is_dead_lettered_whole() {
    let args = ["--max-events-per-batch", "10", "--max-deliveries-in-flight", "1", "--max-delivery-attempts", "3"];
    let args = args.iter().chain(&["--time-scale", "1000"]).map(|a| a.to_string()).collect();
    let shape = Shape::start(Options { instances: 2, args, ..Default::default() }).await;
    let batch = [
        stock_event(true, "apple-pie", 4, 1, "1"),
        stock_event(true, "plum-pie", 6, 1, "2"),
        stock_event(true, "pear-pie", 8, 1, "1"),
    ];
    publish(&shape, true, &batch).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let records = loop {
        let records = shape.events().await;
        if records.iter().all(|r| !r["deadLettered"].is_null()) {
            break records;
        }
        assert!(Instant::now() < deadline, "never dead-lettered: {records:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for record in &records {
        assert_eq!((record["attempts"].as_u64(), record["acknowledged"].as_u64()), (Some(3), Some(0)), "{record}");
        assert_eq!(record["deadLettered"], records[0]["deadLettered"], "one blob for the batch");
    }
    assert_eq!(counts(&shape).await["deliveries"], 3, "the batch was delivered as one, three times");
    let expected = BTreeMap::from([("apple-pie".to_owned(), (4, 1)), ("pear-pie".to_owned(), (8, 1))]);
    converge(&shape, &expected).await;

    let path = std::path::PathBuf::from(records[0]["deadLettered"].as_str().unwrap());
    let blob: Vec<Value> = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let ids: Vec<&Value> = blob.iter().map(|e| &e["id"]).collect();
    assert_eq!(ids.len(), 3);
    assert!(batch.iter().all(|e| ids.contains(&&e["id"])), "the whole batch is in the blob");
    assert!(blob.iter().all(|e| e["deadletterreason"] == "MaxDeliveryAttemptsExceeded" && e["deliveryattempts"] == 3));

    let replay = std::process::Command::new(shape::binary("handler"))
        .args(["deadletters", "replay", "--json"])
        .arg(shape.dead_letter_dir())
        .env("PIESHOP_DATA_DIR", shape.data_dir())
        .env("RUST_LOG", "error")
        .env_remove("REDIS_URL")
        .env_remove("ELASTICSEARCH_URL")
        .env_remove("COSMOS_ENDPOINT")
        .env_remove("EVENTGRID_TOPIC_ENDPOINT")
        .output()
        .unwrap();
    assert_eq!(replay.status.code(), Some(1), "an event waits for a newer release");
    let report: Value = serde_json::from_slice(&replay.stdout).unwrap();
    assert_eq!(report["totals"]["newer"], 1, "{report}");
    assert_eq!(report["totals"]["alreadyThere"], 2, "{report}");
    assert_eq!(report["totals"]["malformed"], 0, "{report}");
    assert!(path.exists(), "left in place for a newer release's replay");
}
