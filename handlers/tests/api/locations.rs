//! Locations (docs/API.md 1.2, "Locations"): defining and retiring them, `GET /api/locations`, and
//! `PIESHOP_UNKNOWN_LOCATIONS=refuse`, which refuses live commands naming undefined or retired locations and
//! flags records naming them, so a typo never creates a phantom store and nothing a scanner recorded is lost.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, expect_problem, id, receive, spawn_app, spawn_app_refusing_unknown_locations, wait_until,
};

fn define(location: &str, name: &str, kind: &str) -> Value {
    json!({"commandId": id(), "type": "defineLocation", "location": location, "name": name, "kind": kind})
}

fn retire(location: &str) -> Value {
    json!({"commandId": id(), "type": "retireLocation", "location": location})
}

fn transfer(from: &str, to: &str, quantity: u64) -> Value {
    json!({"commandId": id(), "type": "transfer", "from": from, "to": to, "sku": "apple-pie", "quantity": quantity})
}

fn record(mut command: Value) -> Value {
    command["occurredAt"] = json!("2026-01-15T10:30:00Z");
    command
}

async fn ok(app: &TestApp, command: Value) -> Value {
    let response = app.command(command).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// Waits until `GET /api/locations` lists `location` as `check` wants it.
async fn listed(app: &TestApp, location: &str, check: impl Fn(&Value) -> bool) -> Value {
    let body = wait_until(app, "/api/locations", |body| {
        body["locations"].as_array().unwrap().iter().any(|l| l["location"] == location && check(l))
    })
    .await;
    body["locations"].as_array().unwrap().iter().find(|l| l["location"] == location).unwrap().clone()
}

/// Defining answers the location; defining again renames it; retiring flags it; defining a retired location
/// re-activates it; each is one version of the location's own stream.
#[tokio::test]
async fn define_rename_retire_and_redefine_answer_the_location() {
    let app = spawn_app().await;
    let body = ok(&app, define("store-1", "High Street", "shop")).await;
    assert_eq!(body["status"], "applied");
    assert_eq!(
        body["location"],
        json!({"location": "store-1", "name": "High Street", "kind": "shop", "retired": false, "version": 1})
    );
    assert!(body.get("items").is_none() && body["events"].as_array().unwrap().len() == 1, "{body}");
    let renamed = ok(&app, define("store-1", "High St.", "shop")).await;
    assert_eq!((&renamed["location"]["name"], &renamed["location"]["version"]), (&json!("High St."), &json!(2)));
    let retired = ok(&app, retire("store-1")).await;
    assert_eq!(
        retired["location"],
        json!({"location": "store-1", "name": "High St.", "kind": "shop", "retired": true, "version": 3})
    );
    let again = ok(&app, define("store-1", "High St.", "storeroom")).await;
    assert_eq!((&again["location"]["retired"], &again["location"]["kind"]), (&json!(false), &json!("storeroom")));
    let shown = listed(&app, "store-1", |l| l["version"] == 4).await;
    assert_eq!(
        shown,
        json!({"location": "store-1", "name": "High St.", "kind": "storeroom", "retired": false, "defined": true,
               "skus": 0, "total": 0, "version": 4})
    );
}

/// `expectedVersion` guards a rename like any command, and a location's command is idempotent by commandId.
#[tokio::test]
async fn location_commands_take_expected_version_and_replay_by_command_id() {
    let app = spawn_app().await;
    let first = define("van", "Van", "van");
    let body = ok(&app, first.clone()).await;
    let replay = app.command(first).await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    let replayed: Value = replay.json().await.unwrap();
    assert_eq!((&replayed["status"], &replayed["location"]), (&json!("duplicate"), &body["location"]));
    let mut stale = define("van", "Van 2", "van");
    stale["expectedVersion"] = json!(0);
    let problem = expect_problem(app.command(stale).await, 409, "version-conflict").await;
    assert_eq!((&problem["expectedVersion"], &problem["actualVersion"]), (&json!(0), &json!(1)));
    let mut fresh = define("van", "Van 2", "van");
    fresh["expectedVersion"] = json!(1);
    assert_eq!(ok(&app, fresh).await["location"]["version"], 2);
}

/// Retiring a location nobody defined is refused: there is nothing to retire.
#[tokio::test]
async fn retiring_an_undefined_location_is_refused_with_unknown_location() {
    let app = spawn_app().await;
    let problem = expect_problem(app.command(retire("store-l")).await, 409, "unknown-location").await;
    assert_eq!(problem["location"], "store-l");
    assert_eq!(app.event_count().await, 0);
}

/// Bad input for every new field is a 400 naming it, and changes nothing.
#[tokio::test]
async fn bad_location_commands_are_400_naming_each_field() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"commandId": id(), "type": "defineLocation", "location": "store-1", "name": "Shop", "kind": "castle"}),
            vec!["kind"],
        ),
        (json!({"commandId": id(), "type": "defineLocation", "location": "store-1", "kind": "shop"}), vec!["name"]),
        (
            json!({"commandId": id(), "type": "defineLocation", "location": "store-1", "name": "x".repeat(121), "kind": "shop"}),
            vec!["name"],
        ),
        (
            json!({"commandId": id(), "type": "defineLocation", "location": "store-1", "name": "   ", "kind": "shop"}),
            vec!["name"],
        ),
        (
            json!({"commandId": id(), "type": "defineLocation", "location": "Store 1", "name": "Shop", "kind": "shop"}),
            vec!["location"],
        ),
        (
            json!({"commandId": id(), "type": "defineLocation", "location": "store-1", "name": "Shop", "kind": "shop", "sku": "apple-pie"}),
            vec!["sku"],
        ),
        (json!({"commandId": id(), "type": "retireLocation", "location": "store-1", "name": "Shop"}), vec!["name"]),
        (json!({"commandId": id(), "type": "retireLocation"}), vec!["location"]),
    ];
    for (body, fields) in cases {
        let problem = expect_problem(app.command(body.clone()).await, 400, "invalid-request").await;
        let named: Vec<&str> =
            problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(named, fields, "{body}");
    }
    let longest = json!({"commandId": id(), "type": "defineLocation", "location": "store-1", "name": "x".repeat(120), "kind": "other"});
    assert_eq!(app.event_count().await, 0);
    ok(&app, longest).await;
}

/// The listing shows defined locations (retired ones flagged) and those holding stock without being defined,
/// with each one's totals, on the embedded read model (the port contract suite runs it on Elasticsearch too).
#[tokio::test]
async fn the_listing_shows_defined_and_undefined_locations_with_their_stock() {
    let app = spawn_app().await;
    ok(&app, define("store-1", "High Street", "shop")).await;
    ok(&app, define("cold-1", "Cold room", "coldroom")).await;
    ok(&app, retire("cold-1")).await;
    ok(&app, receive("store-1", "apple-pie", 5)).await;
    ok(&app, receive("store-1", "pork-pie", 2)).await;
    ok(&app, receive("store-l", "apple-pie", 3)).await;
    let typo = listed(&app, "store-l", |_| true).await;
    assert_eq!(
        typo,
        json!({"location": "store-l", "name": "store-l", "kind": null, "retired": false, "defined": false,
               "skus": 1, "total": 3, "version": null})
    );
    let body = wait_until(&app, "/api/locations", |b| b["locations"].as_array().unwrap().len() == 3).await;
    let ids: Vec<&str> =
        body["locations"].as_array().unwrap().iter().map(|l| l["location"].as_str().unwrap()).collect();
    assert_eq!(ids, ["cold-1", "store-1", "store-l"]);
    assert_eq!(body["locations"][0]["retired"], true);
    assert_eq!((&body["locations"][1]["skus"], &body["locations"][1]["total"]), (&json!(2), &json!(7)));
    assert!(body["asOf"].is_string(), "{body}");
}

/// The listing has an ETag, answers 304 to it, and `waitForChange` returns as soon as a location changes.
#[tokio::test]
async fn the_listing_is_conditional_and_waits_for_a_change() {
    let app = spawn_app().await;
    ok(&app, define("store-1", "High Street", "shop")).await;
    listed(&app, "store-1", |_| true).await;
    let response = app.get("/api/locations").await;
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let again = app.client.get(app.url("/api/locations")).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let path = format!("/api/locations?waitForChange={etag}&timeout=20");
    let waiting = tokio::spawn({
        let (client, url) = (app.client.clone(), app.url(&path));
        async move { client.get(url).send().await.unwrap() }
    });
    ok(&app, retire("store-1")).await;
    let changed = waiting.await.unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    let body: Value = changed.json().await.unwrap();
    assert_eq!(body["locations"][0]["retired"], true, "{body}");
    let bad = app.get("/api/locations?timeout=0").await;
    expect_problem(bad, 400, "invalid-request").await;
}

/// Under `allow` (the default) any well-formed location is taken, as in API 1.1, and nothing is flagged.
#[tokio::test]
async fn under_allow_an_undefined_location_is_taken_unflagged() {
    let app = spawn_app().await;
    let body = ok(&app, receive("store-l", "apple-pie", 3)).await;
    assert!(body.get("unknownLocation").is_none(), "{body}");
    let retired = ok(&app, define("van", "Van", "van")).await;
    assert_eq!(retired["location"]["version"], 1);
    ok(&app, retire("van")).await;
    ok(&app, receive("van", "apple-pie", 1)).await;
}

/// Under `refuse`, the typo `store-l` for `store-1` is refused (409 `unknown-location` with `location`), a
/// retired location too (409 `location-retired`), and neither changes anything; the defined one is taken.
#[tokio::test]
async fn under_refuse_live_commands_to_undefined_or_retired_locations_are_refused() {
    let app = spawn_app_refusing_unknown_locations().await;
    ok(&app, define("store-1", "High Street", "shop")).await;
    ok(&app, define("van", "Van", "van")).await;
    ok(&app, retire("van")).await;
    let events = app.event_count().await;
    let typo = expect_problem(app.command(receive("store-l", "apple-pie", 3)).await, 409, "unknown-location").await;
    assert_eq!(typo["location"], "store-l");
    let retired = expect_problem(app.command(receive("van", "apple-pie", 3)).await, 409, "location-retired").await;
    assert_eq!(retired["location"], "van");
    let count = json!({"commandId": id(), "type": "count", "location": "store-l", "sku": "apple-pie", "quantity": 0});
    expect_problem(app.command(count).await, 409, "unknown-location").await;
    assert_eq!(app.event_count().await, events, "a refusal changes nothing");
    let body = ok(&app, receive("store-1", "apple-pie", 3)).await;
    assert!(body.get("unknownLocation").is_none(), "{body}");
    ok(&app, define("van", "Van", "van")).await;
    ok(&app, receive("van", "apple-pie", 1)).await;
}

/// Under `refuse` a transfer checks both ends: an undefined or retired source or destination refuses it, and
/// nothing moves. Once accepted, its derived second half is never refused, even if the destination is retired
/// in between: the stock arrives.
#[tokio::test]
async fn under_refuse_transfers_check_both_ends() {
    let app = spawn_app_refusing_unknown_locations().await;
    ok(&app, define("store-1", "High Street", "shop")).await;
    ok(&app, define("van", "Van", "van")).await;
    ok(&app, receive("store-1", "apple-pie", 10)).await;
    let to_typo = expect_problem(app.command(transfer("store-1", "vam", 2)).await, 409, "unknown-location").await;
    assert_eq!(to_typo["location"], "vam");
    let from_typo = expect_problem(app.command(transfer("store-l", "van", 2)).await, 409, "unknown-location").await;
    assert_eq!(from_typo["location"], "store-l");
    ok(&app, define("cold-1", "Cold room", "coldroom")).await;
    ok(&app, retire("cold-1")).await;
    let to_retired = expect_problem(app.command(transfer("store-1", "cold-1", 2)).await, 409, "location-retired").await;
    assert_eq!(to_retired["location"], "cold-1");
    assert_eq!(app.write_items().await, vec![("store-1/apple-pie".into(), 10, 1)]);
    let moved = ok(&app, transfer("store-1", "van", 4)).await;
    assert_eq!((&moved["pending"], &moved["items"][1]["quantity"]), (&json!(false), &json!(4)));
}

/// The transfer saga's second half is not a client's command: a transfer left pending (its destination's
/// commit failing) is completed by the relay after the destination was retired, not refused and stranded.
#[tokio::test]
async fn under_refuse_a_pending_transfer_completes_after_its_destination_is_retired() {
    let app = spawn_app_refusing_unknown_locations().await;
    ok(&app, define("store-1", "High Street", "shop")).await;
    ok(&app, define("van", "Van", "van")).await;
    ok(&app, receive("store-1", "apple-pie", 10)).await;
    *app.failing_stream.lock().unwrap() = Some(pieshop::domain::StreamId::parse("van/apple-pie").unwrap());
    let pending = ok(&app, transfer("store-1", "van", 4)).await;
    assert_eq!(pending["pending"], true, "{pending}");
    *app.failing_stream.lock().unwrap() = None;
    ok(&app, retire("van")).await;
    app.relay().await;
    assert_eq!(app.write_items().await, vec![("store-1/apple-pie".into(), 6, 2), ("van/apple-pie".into(), 4, 1)]);
}

/// Under `refuse` a record naming an undefined or retired location is never refused: it is applied, and its
/// answer and its activity entry say `unknownLocation: true`; a retry of it replays the flagged answer even once
/// the location is defined.
#[tokio::test]
async fn under_refuse_records_are_applied_and_flagged_never_refused() {
    let app = spawn_app_refusing_unknown_locations().await;
    let scanned = record(receive("store-l", "apple-pie", 3));
    let body = ok(&app, scanned.clone()).await;
    assert_eq!((&body["status"], &body["unknownLocation"]), (&json!("applied"), &json!(true)));
    assert_eq!(body["items"][0]["quantity"], 3);
    ok(&app, define("store-1", "High Street", "shop")).await;
    ok(&app, receive("store-1", "apple-pie", 1)).await;
    let activity =
        wait_until(&app, "/api/activity?sku=apple-pie", |b| b["events"].as_array().unwrap().len() == 2).await;
    let flags: Vec<(&str, Option<&Value>)> = activity["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["location"].as_str().unwrap(), e.get("unknownLocation")))
        .collect();
    assert_eq!(flags, [("store-1", None), ("store-l", Some(&json!(true)))]);
    ok(&app, define("store-l", "Typo", "other")).await;
    let replay: Value = app.command(scanned).await.json().await.unwrap();
    assert_eq!((&replay["status"], &replay["unknownLocation"]), (&json!("duplicate"), &json!(true)));
    ok(&app, retire("store-l")).await;
    let late = ok(&app, record(transfer("store-1", "store-l", 1))).await;
    assert_eq!(late["unknownLocation"], true, "a record to a retired end is flagged: {late}");
}

/// A command applied before its location was retired, retried after, replays its answer instead of being refused.
#[tokio::test]
async fn under_refuse_a_retry_after_a_retirement_replays_the_first_answer() {
    let app = spawn_app_refusing_unknown_locations().await;
    ok(&app, define("van", "Van", "van")).await;
    let command = receive("van", "apple-pie", 2);
    let first = ok(&app, command.clone()).await;
    ok(&app, retire("van")).await;
    let retry = app.command(command).await;
    assert_eq!(retry.status(), StatusCode::OK);
    let body: Value = retry.json().await.unwrap();
    assert_eq!((&body["status"], &body["items"]), (&json!("duplicate"), &first["items"]));
}

/// Inside a batch each command gets its own answer: the typo is rejected with its problem, the others apply.
#[tokio::test]
async fn under_refuse_a_batch_answers_each_command_on_its_own() {
    let app = spawn_app_refusing_unknown_locations().await;
    let typo = receive("store-l", "apple-pie", 1);
    let batch = json!({"commands": [
        define("store-1", "High Street", "shop"),
        receive("store-1", "apple-pie", 5),
        typo.clone(),
        record(receive("store-l", "apple-pie", 2)),
    ]});
    let response = app.post_json("/api/commands/batch", &batch).await;
    assert_eq!(response.status(), StatusCode::OK);
    let results: Value = response.json().await.unwrap();
    let results = results["results"].as_array().unwrap();
    assert_eq!(results[0]["location"]["location"], "store-1");
    assert_eq!(results[1]["items"][0]["quantity"], 5);
    assert_eq!(results[2]["status"], "rejected");
    assert_eq!(results[2]["commandId"], typo["commandId"]);
    assert_eq!(results[2]["problem"]["type"], "urn:pieshop:problem:unknown-location");
    assert_eq!(results[2]["problem"]["location"], "store-l");
    assert_eq!((&results[3]["status"], &results[3]["unknownLocation"]), (&json!("applied"), &json!(true)));
}

/// The README's example through the real binary: `PIESHOP_UNKNOWN_LOCATIONS=refuse` in the environment refuses
/// the typo `store-l` for the defined `store-1`, and a bad value of the setting stops the handler at start.
#[tokio::test]
async fn the_binary_reads_the_setting_and_refuses_a_typo() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = crate::helpers::handler_command();
    command.env("PIESHOP_DATA_DIR", dir.path()).env("PIESHOP_UNKNOWN_LOCATIONS", "refuse");
    command.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    let server = pieshop_testkit::process::Standalone::spawn(&mut command, "127.0.0.1");
    assert!(server.ready(std::time::Duration::from_secs(30)).await, "handler never became ready");
    let client = reqwest::Client::new();
    let post = |body: Value| client.post(server.url("/api/commands")).json(&body).send();
    assert_eq!(post(define("store-1", "High Street", "shop")).await.unwrap().status(), StatusCode::OK);
    let problem =
        expect_problem(post(receive("store-l", "apple-pie", 24)).await.unwrap(), 409, "unknown-location").await;
    assert_eq!(problem["location"], "store-l");
    assert_eq!(post(receive("store-1", "apple-pie", 24)).await.unwrap().status(), StatusCode::OK);

    let mut bad = crate::helpers::handler_command();
    bad.env("PIESHOP_DATA_DIR", dir.path().join("other")).env("PIESHOP_UNKNOWN_LOCATIONS", "deny");
    bad.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    let mut refused = pieshop_testkit::process::Standalone::spawn(&mut bad, "127.0.0.1");
    let status = refused.process.exited(std::time::Duration::from_secs(30)).await.expect("a bad setting stops it");
    assert!(!status.success());
}

/// `verify` compares each defined location's definition in both models: none differs after the projection, and
/// one the read model lost is reported.
#[tokio::test]
async fn verify_compares_defined_locations() {
    let app = spawn_app().await;
    ok(&app, define("store-1", "High Street", "shop")).await;
    ok(&app, retire("store-1")).await;
    ok(&app, receive("store-1", "apple-pie", 1)).await;
    app.wait_for_item("store-1", "apple-pie", 1).await;
    listed(&app, "store-1", |l| l["retired"] == true).await;
    let other = pieshop::wiring::embedded(app.data_dir()).expect("a second opener of the same files");
    let verification = pieshop::application::operator::verify(&other.adapters).await.unwrap();
    assert!(verification.drift.is_empty(), "{:?}", verification.drift);
    let read = rusqlite::Connection::open(app.data_dir().join("read.db")).unwrap();
    read.execute("DELETE FROM locations", []).unwrap();
    let verification = pieshop::application::operator::verify(&other.adapters).await.unwrap();
    let subjects: Vec<String> = verification.drift.iter().map(|d| d.subject.clone()).collect();
    assert_eq!(subjects, ["location store-1 definition"]);
}
