//! The design's guarantees, driven through the deployed shape: funchost (the Functions host and Event Grid) in
//! front of two handler instances that share the Cosmos SDK's emulator over HTTP and real Elasticsearch, with
//! Redis and without it. Scanners race and retry across instances, Event Grid redelivers out of order, an
//! instance is killed, and every instance is asked whether it still serves an answer an acknowledged event
//! superseded.

mod shape;

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use shape::{COMMAND, HOST, MASTER, Options, QUERY, Shape, engine, id, receive};

/// What the command answers said each item reached: (quantity, version) at its highest version.
#[derive(Default)]
struct Ledger {
    items: BTreeMap<String, (u64, u64)>,
    events: Vec<String>,
}

impl Ledger {
    fn record(&mut self, answer: &Value) {
        for item in answer["items"].as_array().into_iter().flatten() {
            let key = format!("{}/{}", item["location"].as_str().unwrap(), item["sku"].as_str().unwrap());
            let seen = (item["quantity"].as_u64().unwrap(), item["version"].as_u64().unwrap());
            let held = self.items.entry(key).or_insert(seen);
            if seen.1 > held.1 {
                *held = seen;
            }
        }
        // What the command did (`applied`, `adjusted`, ...): every answer but a replay names new events.
        if answer["status"] != "duplicate" {
            self.events.extend(answer["events"].as_array().unwrap().iter().map(|e| e.as_str().unwrap().to_owned()));
        }
    }
}

/// Every item as one instance's read model shows it: stream → (quantity, version).
async fn read_items(shape: &Shape, instance: usize) -> BTreeMap<String, (u64, u64)> {
    let body: Value = shape.get("/api/inventory?limit=500", instance, None).await.json().await.unwrap();
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let key = format!("{}/{}", i["location"].as_str().unwrap(), i["sku"].as_str().unwrap());
            (key, (i["quantity"].as_u64().unwrap(), i["version"].as_u64().unwrap()))
        })
        .collect()
}

/// Sends a command until it gets an answer that is not a failure of the shape itself (500 while an instance
/// dies, 503 while a backend recovers), always with the same body: a scanner's retry.
async fn send(shape: &Shape, body: &Value, instance: Option<usize>) -> (StatusCode, Value, bool) {
    for _ in 0..100 {
        let response = shape.command(body, instance).await;
        let status = response.status();
        if status.is_server_error() {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        let replayed = response.headers().get("idempotent-replayed").is_some();
        return (status, response.json().await.unwrap(), replayed);
    }
    panic!("command never answered: {body}");
}

#[tokio::test]
async fn keys_and_routes_are_checked_as_the_host_checks_them() {
    let shape = Shape::start(Options { instances: 1, ..Default::default() }).await;
    let command = receive("store-1", "apple-pie", 3);
    let post = |key: Option<&str>, path: &str| {
        let mut request = shape.client.post(shape.url(path)).json(&command);
        if let Some(key) = key {
            request = request.header("x-functions-key", key);
        }
        request.send()
    };
    for key in [None, Some("wrong-key"), Some(QUERY)] {
        let response = post(key, "/api/commands").await.unwrap();
        assert_eq!(response.status(), 401, "{key:?}");
        assert!(response.bytes().await.unwrap().is_empty(), "the host's 401 has an empty body");
    }
    assert_eq!(post(Some(COMMAND), "/api/commands").await.unwrap().status(), 200);
    assert_eq!(post(Some(COMMAND), "/api/nothing").await.unwrap().status(), 404, "no route");
    let get = |path: &str| shape.client.get(shape.url(path)).send();
    assert_eq!(get("/api/inventory").await.unwrap().status(), 401);
    assert_eq!(
        get(&format!("/api/inventory?code={COMMAND}")).await.unwrap().status(),
        401,
        "a command key is not a query key"
    );
    assert_eq!(get(&format!("/api/inventory?code={QUERY}")).await.unwrap().status(), 200);
    assert_eq!(
        get(&format!("/api/inventory/summary?code={HOST}")).await.unwrap().status(),
        200,
        "a host key opens all"
    );
    let dashboard = get(&format!("/api/dashboard?code={QUERY}")).await.unwrap();
    assert_eq!(dashboard.status(), 200);
    assert!(dashboard.text().await.unwrap().contains("<html"), "the dashboard page, behind the query key");
    assert_eq!(get("/api/openapi.json").await.unwrap().status(), 401, "the OpenAPI document is behind a key");
    assert_eq!(
        get(&format!("/api/openapi.json?code={COMMAND}")).await.unwrap().status(),
        401,
        "it is a route of query, not of command"
    );
    let document = get(&format!("/api/openapi.json?code={QUERY}")).await.unwrap();
    assert_eq!(document.status(), 200);
    let document: Value = document.json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0", "the OpenAPI document, behind the query key");
    assert_eq!(
        get(&format!("/api/commands?code={HOST}")).await.unwrap().status(),
        404,
        "GET is not a method of command"
    );
    // Live push's negotiate is a function of its own (POST, the SignalR client's own call): behind a key like the
    // others, and it reaches the handler, which without AZURE_SIGNALR_ENDPOINT says push is unavailable (503) so
    // the dashboard polls; under the host this process cannot be the hub itself.
    let negotiate = |key: &str| {
        shape.client.post(shape.url("/api/negotiate?negotiateVersion=1")).header("x-functions-key", key).send()
    };
    assert_eq!(negotiate("wrong-key").await.unwrap().status(), 401);
    assert_eq!(negotiate(QUERY).await.unwrap().status(), 401, "a query key is not a negotiate key");
    let reached = negotiate(HOST).await.unwrap();
    assert_eq!(reached.status(), 503, "the handler answers: no SignalR Service configured");
    assert_eq!(reached.headers()["content-type"], "application/problem+json");
    let relay =
        |key: &str| shape.client.post(shape.url("/admin/functions/relay")).header("x-functions-key", key).send();
    assert_eq!(relay(HOST).await.unwrap().status(), 401, "the admin API needs the master key");
    assert_eq!(relay(MASTER).await.unwrap().status(), 202);
}

/// Guarantees 1, 3, 4, 5 and the transfer saga across two instances, then guarantee 6 round by round.
async fn guarantees_hold_across_instances(redis: Option<String>) {
    let Some(elasticsearch) = engine("ELASTICSEARCH_URL") else { return };
    let args = ["--jitter-ms", "40", "--duplicate-rate", "0.3", "--time-scale", "100"];
    let options = Options {
        instances: 2,
        elasticsearch: Some(elasticsearch),
        redis,
        args: args.iter().map(|a| a.to_string()).collect(),
        ..Default::default()
    };
    let shape = Shape::start(options).await;
    let mut ledger = Ledger::default();
    let define =
        json!({"commandId": id(), "type": "defineProduct", "sku": "apple-pie", "name": "Apple Pie", "reorderLevel": 5});
    let (status, answer, _) = send(&shape, &define, None).await;
    assert_eq!(status, 200, "{answer}");
    ledger.events.extend(answer["events"].as_array().unwrap().iter().map(|e| e.as_str().unwrap().to_owned()));

    // No lost update, exactly once: four scanners race on two items; every command is sent twice, the copy to
    // the other instance, and answers as a replay of the original.
    let scanners = (0..4).map(|scanner| {
        let shape = &shape;
        async move {
            let mut answers = Vec::new();
            for n in 0..8u64 {
                let location = ["store-1", "store-2"][((scanner + n) % 2) as usize];
                let body = receive(location, "apple-pie", n % 3 + 1);
                let first = (scanner + n) as usize % 2;
                let (status, answer, _) = send(shape, &body, Some(first)).await;
                assert_eq!(status, 200, "{answer}");
                let (status, again, replayed) = send(shape, &body, Some(1 - first)).await;
                assert_eq!(status, 200, "{again}");
                assert!(replayed && again["status"] == "duplicate", "a retry is a replay: {again}");
                assert_eq!(again["events"], answer["events"], "the same events");
                answers.push((n % 3 + 1, answer));
            }
            answers
        }
    });
    let mut received = 0;
    for answers in futures::future::join_all(scanners).await {
        for (quantity, answer) in answers {
            received += quantity;
            ledger.record(&answer);
        }
    }
    let total = ledger.items.values().map(|(quantity, _)| quantity).sum::<u64>();
    assert_eq!(total, received, "every receive counted once: {:?}", ledger.items);

    // A transfer completes; a live removal of more than is there is refused and changes nothing.
    let transfer = json!({"commandId": id(), "type": "transfer", "from": "store-1", "to": "van", "sku": "apple-pie", "quantity": 3});
    let (status, answer, _) = send(&shape, &transfer, None).await;
    assert_eq!((status, &answer["pending"]), (StatusCode::OK, &json!(false)), "{answer}");
    ledger.record(&answer);
    let too_much = json!({"commandId": id(), "type": "remove", "location": "van", "sku": "apple-pie", "quantity": 99, "reason": "sold"});
    let (status, answer, _) = send(&shape, &too_much, None).await;
    assert_eq!(
        (status, answer["type"].as_str()),
        (StatusCode::CONFLICT, Some("urn:pieshop:problem:insufficient-stock"))
    );

    // A command id is one command, whichever item it names.
    let original = receive("store-1", "cherry-pie", 2);
    let (status, answer, _) = send(&shape, &original, Some(0)).await;
    assert_eq!(status, 200);
    ledger.record(&answer);
    let mut reused = receive("store-2", "cherry-pie", 5);
    reused["commandId"] = original["commandId"].clone();
    let (status, answer, _) = send(&shape, &reused, Some(1)).await;
    assert_eq!(status, 409, "a reused commandId on another item is refused: {answer}");
    assert_eq!(answer["type"], "urn:pieshop:problem:command-id-reused");

    // No lost event, order-safe projection: every event acknowledged (some twice, in any order), and every
    // instance's read model equals what the commands answered.
    // (A transfer's second half is committed and published by the destination's own derived command, whose
    // event id no answer lists: the read models are waited for, not just the listed events.)
    shape.wait_acknowledged(&ledger.events).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    for instance in 0..2 {
        loop {
            let read = read_items(&shape, instance).await;
            if read == ledger.items {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "instance {instance}: {read:?} != {:?}", ledger.items);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let events = shape.events().await;
    assert!(events.iter().all(|e| e["deadLettered"].is_null()), "nothing dead-lettered");
    assert!(events.iter().any(|e| e["acknowledged"].as_u64() > Some(1)), "some events were delivered twice");

    // Guarantee 6: once any instance's projection acknowledged an event, no instance answers as if it had not.
    let item = "/api/inventory/store-1/apple-pie";
    for round in 0..4 {
        let mut before = Vec::new();
        for instance in 0..2 {
            let response = shape.get(item, instance, None).await;
            let etag = response.headers()["etag"].to_str().unwrap().to_owned();
            let summary = shape.get("/api/inventory/summary", instance, None).await;
            let summary_etag = summary.headers()["etag"].to_str().unwrap().to_owned();
            let waiting = shape
                .client
                .get(shape.url(&format!("{item}?waitForChange={etag}&timeout=20")))
                .header("x-functions-key", QUERY)
                .header("x-funchost-instance", instance)
                .send();
            before.push((etag, summary_etag, tokio::spawn(waiting)));
        }
        let (status, answer, _) = send(&shape, &receive("store-1", "apple-pie", 1), Some(round % 2)).await;
        assert_eq!(status, 200);
        let version = answer["items"][0]["version"].as_u64().unwrap();
        shape.wait_acknowledged(&[answer["events"][0].as_str().unwrap().to_owned()]).await;
        for (instance, (etag, summary_etag, waiting)) in before.into_iter().enumerate() {
            let fresh = shape.get(item, instance, Some(&etag)).await;
            assert_eq!(fresh.status(), 200, "round {round}: instance {instance} answered a superseded ETag with 304");
            let body: Value = fresh.json().await.unwrap();
            assert!(body["version"].as_u64() >= Some(version), "round {round}: instance {instance} served {body}");
            let summary = shape.get("/api/inventory/summary", instance, Some(&summary_etag)).await;
            assert_eq!(summary.status(), 200, "round {round}: instance {instance} kept a superseded summary");
            let waited = waiting.await.unwrap().unwrap();
            assert_eq!(waited.status(), 200, "round {round}: instance {instance}'s waitForChange never saw the change");
            let body: Value = waited.json().await.unwrap();
            assert!(body["version"].as_u64() >= Some(version));
        }
        let fresh = shape.get(&format!("{item}?minVersion={version}&timeout=10"), 1 - round % 2, None).await;
        assert!(fresh.headers().get("x-stale").is_none(), "minVersion on the other instance");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guarantees_hold_across_instances_sharing_elasticsearch_without_redis() {
    guarantees_hold_across_instances(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guarantees_hold_across_instances_sharing_elasticsearch_and_redis() {
    let Some(redis) = engine("REDIS_URL") else { return };
    guarantees_hold_across_instances(Some(redis)).await;
}

/// SIGKILLs an instance twice while scanners send commands: nothing is lost, nothing applied twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instance_loses_nothing() {
    let Some(elasticsearch) = engine("ELASTICSEARCH_URL") else { return };
    let args = ["--jitter-ms", "20", "--time-scale", "100"].iter().map(|a| a.to_string()).collect();
    let shape =
        Shape::start(Options { instances: 2, elasticsearch: Some(elasticsearch), args, ..Default::default() }).await;
    let scanners = (0..3).map(|scanner| {
        let shape = &shape;
        async move {
            let mut ledger = Ledger::default();
            for n in 0..30u64 {
                let body = if n % 10 == 9 {
                    json!({"commandId": id(), "type": "transfer", "from": format!("shelf-{scanner}"), "to": "van", "sku": "pie", "quantity": 1})
                } else {
                    receive(&format!("shelf-{scanner}"), "pie", 2)
                };
                let (status, answer, _) = send(shape, &body, None).await;
                assert_eq!(status, 200, "{answer}");
                ledger.record(&answer);
            }
            ledger
        }
    });
    let killer = async {
        for _ in 0..2 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            shape.kill(0).await;
        }
    };
    let (ledgers, ()) = futures::join!(futures::future::join_all(scanners), killer);
    // What a killed instance committed but never published, and transfers it left half done, are the relay's.
    shape.relay().await;
    shape.relay().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    for (scanner, ledger) in ledgers.iter().enumerate() {
        let shelf = format!("shelf-{scanner}/pie");
        let expected = ledger.items[&shelf];
        assert_eq!(expected.0, 2 * 27 - 3, "shelf {scanner}: 27 receives of 2, 3 transfers of 1, each once");
        loop {
            let read = read_items(&shape, 1).await;
            if read.get(&shelf) == Some(&expected) && read.get("van/pie").is_some_and(|v| v.0 == 9) {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "read model never caught up: {read:?} vs {expected:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert!(shape.instances().await[0]["restarts"].as_u64() >= Some(2), "instance 0 was killed and restarted");
    assert!(shape.events().await.iter().all(|e| e["deadLettered"].is_null()));
}

/// A projection that keeps failing (its Redis never answers, so it cannot invalidate answers) is retried, then
/// dead-lettered where and as Event Grid writes dead letters; the operator's `handler deadletters replay` on
/// that container then reads it (funchost's dead letters are Event Grid's format), applies it through the
/// projection to the instances' read model, and moves the blob aside.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_that_keeps_failing_is_dead_lettered_in_event_grid_layout_and_replayed_by_the_operator() {
    // A listener that never answers, held for the whole test (a port merely closed could be handed to a handler).
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let args = ["--max-delivery-attempts", "3", "--time-scale", "1000"].iter().map(|a| a.to_string()).collect();
    let redis = Some(format!("redis://127.0.0.1:{silent_port}/"));
    let shape = Shape::start(Options { instances: 2, redis, args, ..Default::default() }).await;
    let (status, answer, _) = send(&shape, &receive("store-1", "apple-pie", 1), None).await;
    assert_eq!(status, 200);
    let event = answer["events"][0].as_str().unwrap().to_owned();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let record = loop {
        let events = shape.events().await;
        if let Some(record) = events.into_iter().find(|e| e["id"] == event && !e["deadLettered"].is_null()) {
            break record;
        }
        assert!(std::time::Instant::now() < deadline, "never dead-lettered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(record["attempts"], 3);
    assert_eq!(record["acknowledged"], 0);
    let path = std::path::PathBuf::from(record["deadLettered"].as_str().unwrap());
    let relative = path.strip_prefix(shape.dead_letter_dir()).unwrap().to_str().unwrap().to_owned();
    let layout = dead_letter_layout(&relative);
    assert!(layout, "<SUBSCRIPTION>/<YYYY>/<M>/<D>/<H>/<guid>.json, got {relative}");
    let blob: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let dead = &blob[0];
    assert_eq!(dead["id"], event.as_str());
    assert_eq!(dead["specversion"], "1.0", "delivered and dead-lettered in the schema it was published in");
    assert_eq!(dead["deadletterreason"], "MaxDeliveryAttemptsExceeded");
    assert_eq!(dead["deliveryattempts"], 3);

    let replay = || {
        std::process::Command::new(shape::binary("handler"))
            .args(["deadletters", "replay", "--json"])
            .arg(shape.dead_letter_dir())
            .env("PIESHOP_DATA_DIR", shape.data_dir())
            .env("RUST_LOG", "error")
            .env_remove("REDIS_URL")
            .env_remove("ELASTICSEARCH_URL")
            .env_remove("COSMOS_ENDPOINT")
            .env_remove("EVENTGRID_TOPIC_ENDPOINT")
            .output()
            .unwrap()
    };
    let first = replay();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let report: Value = serde_json::from_slice(&first.stdout).unwrap();
    // Each failed delivery had written the read model before its Redis invalidation failed, so the replay finds
    // the event already there: read as a pieshop event (not malformed), applied idempotently, changing nothing.
    assert_eq!(report["totals"]["events"], 1, "{report}");
    assert_eq!(report["totals"]["alreadyThere"], 1, "{report}");
    assert_eq!(report["totals"]["malformed"], 0, "{report}");
    assert_eq!(report["blobs"][0]["name"], relative.as_str());
    assert!(!path.exists(), "the blob was moved aside");
    assert!(shape.dead_letter_dir().join("replayed").join(&relative).exists(), "kept under replayed/, same path");
    let item: Value = shape.get("/api/inventory/store-1/apple-pie", 1, None).await.json().await.unwrap();
    assert_eq!((item["quantity"].as_i64(), item["version"].as_u64()), (Some(1), Some(1)), "{item}");
    let second = replay();
    assert!(second.status.success());
    let report: Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(report["totals"]["blobs"], 0, "nothing left to replay: {report}");
    drop(silent);
}

/// `PROJECTION-SUB/2026/11/9/5/<uuid>.json`: upper-cased subscription, unpadded date and hour.
fn dead_letter_layout(relative: &str) -> bool {
    let parts: Vec<&str> = relative.split('/').collect();
    let number = |s: &str, max: usize| {
        !s.is_empty() && s.len() <= max && !s.starts_with('0') && s.chars().all(|c| c.is_ascii_digit())
    };
    parts.len() == 6
        && parts[0] == "PROJECTION-SUB"
        && parts[1].len() == 4
        && number(parts[2], 2)
        && number(parts[3], 2)
        && (parts[4] == "0" || number(parts[4], 2))
        && parts[5].strip_suffix(".json").is_some_and(|g| uuid::Uuid::parse_str(g).is_ok())
}
