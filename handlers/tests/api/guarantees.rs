//! The guarantees numbered in README.md (1–5), each proven against the running app.

use std::sync::atomic::Ordering;

use std::time::Duration;

use crate::shuffle::shuffled;
use futures::future::join_all;
use pieshop::contract::command_body;
use pieshop::domain::StreamId;
use pieshop::wiring;
use serde_json::{Value, json};

use crate::helpers::{expect_problem, fixture, id, receive, remove, spawn_app};

/// Guarantee 1: 16 writers racing on one item lose no update.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_on_one_item_lose_no_update() {
    let app = spawn_app().await;
    let writers = (0..16).map(|_| async {
        for _ in 0..10 {
            let response = app.command(receive("store-1", "apple-pie", 1)).await;
            assert_eq!(response.status(), 200);
        }
    });
    join_all(writers).await;
    assert_eq!(app.write_items().await, vec![("store-1/apple-pie".into(), 160, 160)]);
    let item = app.wait_for_item("store-1", "apple-pie", 160).await;
    assert_eq!(item["quantity"], 160);
}

/// Guarantees 1 and 2 together: racing removals never take stock below zero, and exactly the stock on hand
/// is removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_removals_take_exactly_what_is_on_hand() {
    let app = spawn_app().await;
    assert_eq!(app.command(receive("van", "pork-pie", 10)).await.status(), 200);
    let responses = join_all((0..25).map(|_| app.command(remove("van", "pork-pie", 1)))).await;
    let applied = responses.iter().filter(|r| r.status() == 200).count();
    let refused = responses.iter().filter(|r| r.status() == 409).count();
    assert_eq!((applied, refused), (10, 15));
    assert_eq!(app.write_items().await, vec![("van/pork-pie".into(), 0, 11)]);
}

/// Guarantee 2: a removal larger than the stock is refused, names the shortfall, and changes nothing.
#[tokio::test]
async fn removing_more_than_on_hand_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    app.command(receive("store-1", "apple-pie", 3)).await;
    let before = app.event_count().await;
    let problem = expect_problem(app.command(remove("store-1", "apple-pie", 4)).await, 409, "insufficient-stock").await;
    assert_eq!((problem["available"].clone(), problem["requested"].clone()), (json!(3), json!(4)));
    assert_eq!(app.event_count().await, before);
    assert_eq!(app.write_items().await, vec![("store-1/apple-pie".into(), 3, 1)]);
}

/// Guarantee 1: a client that states the version it saw gets a conflict, not a silent retry.
#[tokio::test]
async fn a_stale_expected_version_is_a_conflict() {
    let app = spawn_app().await;
    app.command(receive("store-1", "apple-pie", 3)).await;
    app.command(receive("store-1", "apple-pie", 3)).await;
    let mut stale = receive("store-1", "apple-pie", 1);
    stale["expectedVersion"] = json!(1);
    let problem = expect_problem(app.command(stale).await, 409, "version-conflict").await;
    assert_eq!((problem["expectedVersion"].clone(), problem["actualVersion"].clone()), (json!(1), json!(2)));
    let mut fresh = receive("store-1", "apple-pie", 1);
    fresh["expectedVersion"] = json!(2);
    assert_eq!(app.command(fresh).await.status(), 200);
}

/// Guarantee 3: a retried command gets the original answer, marked as a replay, and changes nothing.
#[tokio::test]
async fn a_retried_command_replays_its_original_answer() {
    let app = spawn_app().await;
    let command = receive("store-1", "apple-pie", 5);
    let first = app.command(command.clone()).await;
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    let again = app.command(command).await;
    assert_eq!(again.headers().get("idempotent-replayed").unwrap(), "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["status"], "duplicate");
    assert_eq!(again["items"], first["items"]);
    assert_eq!(again["events"], first["events"]);
    assert_eq!(app.write_items().await, vec![("store-1/apple-pie".into(), 5, 1)]);
}

/// Guarantee 3 under concurrency: the same command sent eight times at once is applied once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_retries_of_one_command_apply_it_once() {
    let app = spawn_app().await;
    let command = receive("store-1", "apple-pie", 7);
    let responses = join_all((0..8).map(|_| app.command(command.clone()))).await;
    assert!(responses.iter().all(|r| r.status() == 200));
    let replays = responses.iter().filter(|r| r.headers().get("idempotent-replayed").is_some()).count();
    assert_eq!(replays, 7);
    assert_eq!(app.write_items().await, vec![("store-1/apple-pie".into(), 7, 1)]);
}

/// Guarantee 3: the same id with a different body is refused and changes nothing.
#[tokio::test]
async fn a_reused_command_id_with_another_body_is_refused() {
    let app = spawn_app().await;
    let command = receive("store-1", "apple-pie", 5);
    app.command(command.clone()).await;
    let mut changed = command.clone();
    changed["quantity"] = json!(50);
    expect_problem(app.command(changed).await, 409, "command-id-reused").await;
    assert_eq!(app.write_items().await, vec![("store-1/apple-pie".into(), 5, 1)]);
}

/// Guarantee 4: events committed while the publisher is down reach the read model once it recovers.
#[tokio::test]
async fn events_left_unpublished_arrive_after_the_publisher_recovers() {
    let app = spawn_app().await;
    app.publisher_down.store(true, Ordering::SeqCst);
    assert_eq!(app.command(receive("cold-store", "custard-tart", 12)).await.status(), 200);
    let envelope = app.relay().await;
    assert!(envelope["Logs"][0].as_str().unwrap().contains("still failing"), "{envelope}");
    assert_eq!(app.get("/api/inventory/cold-store/custard-tart").await.status(), 404, "not projected yet");

    app.publisher_down.store(false, Ordering::SeqCst);
    let envelope = app.relay().await;
    assert!(envelope["Logs"][0].as_str().unwrap().contains("republished 1"), "{envelope}");
    let item = app.wait_for_item("cold-store", "custard-tart", 1).await;
    assert_eq!(item["quantity"], 12);
}

/// Guarantee 5: every event delivered twice, in shuffled order, in both schemas, through the `projection`
/// route exactly as the host sends it, leaves the read model equal to the write model.
#[tokio::test]
async fn duplicated_and_reordered_deliveries_converge_on_the_write_model() {
    let app = spawn_app().await;
    app.publisher_down.store(true, Ordering::SeqCst);
    for round in 0..6u64 {
        for (location, sku) in [("store-1", "apple-pie"), ("store-2", "apple-pie"), ("van", "pork-pie")] {
            app.command(receive(location, sku, round + 3)).await;
            app.command(remove(location, sku, 1)).await;
        }
    }
    let count = json!({"commandId": id(), "type": "count", "location": "van", "sku": "pork-pie", "quantity": 4});
    app.command(count).await;
    let events = app.store.events().await.unwrap();
    let mut deliveries: Vec<Value> = Vec::new();
    for event in &events {
        deliveries.push(pieshop::contract::event_json::to_cloud_event(event));
        deliveries.push(pieshop::contract::event_json::to_event_grid(event));
    }
    for (n, event) in shuffled(&deliveries, 42).into_iter().enumerate() {
        let mut envelope = fixture("b-eventgrid-egschema-request.json");
        let indented = serde_json::to_string_pretty(&event).unwrap();
        envelope["Data"]["eventGridEvent"] = json!(serde_json::to_string(&indented).unwrap());
        let response = app.post_json("/projection", &envelope).await;
        assert_eq!(response.status(), 200, "delivery {n}");
    }
    assert_eq!(app.read_items().await, app.write_items().await);
    assert_eq!(app.read_items().await.len(), 3);
}

/// The transfer saga: when the destination's half fails, the transfer stays pending (stock visibly in
/// transit) and the relay completes it later; nothing is lost or doubled.
#[tokio::test]
async fn a_transfer_completes_even_if_its_second_half_failed_the_first_time() {
    let app = spawn_app().await;
    app.command(receive("back-room", "apple-pie", 10)).await;
    *app.failing_stream.lock().unwrap() = Some(StreamId::parse("store-1/apple-pie").unwrap());
    let transfer = json!({"commandId": id(), "type": "transfer", "from": "back-room", "to": "store-1",
                          "sku": "apple-pie", "quantity": 4});
    let response = app.command(transfer.clone()).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["pending"], true, "{answer}");
    assert_eq!(app.write_items().await, vec![("back-room/apple-pie".into(), 6, 2)]);

    app.relay().await;
    assert_eq!(app.write_items().await.len(), 1, "still failing: still pending");

    *app.failing_stream.lock().unwrap() = None;
    let envelope = app.relay().await;
    assert!(envelope["Logs"][0].as_str().unwrap().contains("completed 1 transfers"), "{envelope}");
    assert_eq!(app.write_items().await, vec![("back-room/apple-pie".into(), 6, 2), ("store-1/apple-pie".into(), 4, 1)]);
    let again = app.relay().await;
    assert!(again["Logs"][0].as_str().unwrap().contains("completed 0 transfers"), "cleared once done: {again}");
    assert_eq!(app.command(transfer).await.headers().get("idempotent-replayed").unwrap(), "true");
    assert_eq!(app.wait_for_item("store-1", "apple-pie", 1).await["quantity"], 4);
}

/// The saga's other ending: when the destination cannot take the stock (it would pass 1,000,000 on hand), the
/// stock goes back to the source, so nothing is lost and nothing stays in transit.
#[tokio::test]
async fn a_transfer_the_destination_refuses_is_returned_to_the_source() {
    let app = spawn_app().await;
    app.command(receive("van", "apple-pie", 1_000_000)).await;
    app.command(receive("back-room", "apple-pie", 10)).await;
    let transfer = json!({"commandId": id(), "type": "transfer", "from": "back-room", "to": "van",
                          "sku": "apple-pie", "quantity": 5});
    let answer: Value = app.command(transfer).await.json().await.unwrap();
    assert_eq!(answer["pending"], false, "{answer}");
    assert_eq!(
        app.write_items().await,
        vec![("back-room/apple-pie".into(), 10, 3), ("van/apple-pie".into(), 1_000_000, 1)],
        "out, then back in: three versions at the source, none at the destination"
    );
    let relay = app.relay().await;
    assert!(relay["Logs"][0].as_str().unwrap().contains("completed 0 transfers"), "nothing left pending: {relay}");
    app.wait_for_item("back-room", "apple-pie", 3).await;
    let activity = app.get_json("/api/activity?location=back-room&limit=1").await;
    assert_eq!(activity["events"][0]["type"], "pieshop.TransferredIn");
    assert_eq!(
        (activity["events"][0]["from"].clone(), activity["events"][0]["to"].clone()),
        (json!("van"), json!("back-room"))
    );
}

/// The embedded write store keeps streams' states in memory. Another process writing the same files (an
/// operator's `handler relay`, a second server) must not make this one refuse what the stored state allows.
#[tokio::test]
async fn a_refusal_is_decided_on_the_stored_state_not_on_a_copy_in_memory() {
    let app = spawn_app().await;
    assert_eq!(app.command(receive("store-1", "apple-pie", 5)).await.status(), 200);
    let other_process = wiring::embedded(app.data_dir()).expect("second opener").app(Duration::ZERO);
    let more = command_body::parse(&receive("store-1", "apple-pie", 10), "").expect("valid command");
    other_process.commands.execute(&more).await.expect("applied by the other opener");

    let response = app.command(remove("store-1", "apple-pie", 12)).await;
    assert_eq!(response.status(), 200, "15 are stored; a copy in memory says 5");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["items"][0]["quantity"], 3);
    assert_eq!(body["items"][0]["version"], 3);
}
