//! The Event Grid publisher's wire format and retries, against an HTTP endpoint in the test that records
//! what it receives, checked against the protocol fixtures (p1, p2) and the official Python parsers.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use bytes::Bytes;
use pieshop::adapters::eventgrid::{EventGridPublisher, EventGridSettings, TopicAuth};
use pieshop::contract::event_json::Schema;
use pieshop::domain::Event;
use pieshop::ports::{EventPublisher, PublishError};
use pieshop_testkit::fixtures::host as fixture;
use serde_json::Value;

use crate::support::{product, stock};

const KEY: &str = "test-topic-key-not-a-real-one";

/// What the stand-in topic received, and what it answers next.
#[derive(Default)]
struct Topic {
    requests: Vec<(HeaderMap, String, Bytes)>,
    answers: Vec<StatusCode>,
}

async fn receive(
    State(topic): State<Arc<Mutex<Topic>>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let mut topic = topic.lock().unwrap();
    topic.requests.push((headers, uri.to_string(), body));
    if topic.answers.is_empty() { StatusCode::OK } else { topic.answers.remove(0) }
}

async fn topic(answers: Vec<StatusCode>) -> (String, Arc<Mutex<Topic>>) {
    let state = Arc::new(Mutex::new(Topic { requests: Vec::new(), answers }));
    let app = Router::new().route("/api/events", post(receive)).with_state(state.clone());
    let url = format!("{}/api/events", pieshop_testkit::served::stand_in(app).await);
    (url, state)
}

fn publisher(endpoint: String, schema: Schema) -> EventGridPublisher {
    let auth = TopicAuth::Key(azure_core::credentials::Secret::new(KEY));
    EventGridPublisher::new(EventGridSettings { endpoint, schema, auth }).unwrap()
}

fn sorted_keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

fn events() -> Vec<Event> {
    vec![stock("store-1", "apple-pie", 1, 4, 0), product("apple-pie", "Apple Pie", Some(3), 1)]
}

#[tokio::test]
async fn cloud_events_are_posted_as_a_batch_in_the_fixture_shape() {
    let (url, topic) = topic(Vec::new()).await;
    publisher(url, Schema::CloudEvents).publish(&events()).await.unwrap();
    let topic = topic.lock().unwrap();
    assert_eq!(topic.requests.len(), 1);
    let (headers, uri, body) = &topic.requests[0];
    assert!(uri.ends_with("?api-version=2018-01-01"), "{uri}");
    assert_eq!(headers["content-type"], "application/cloudevents-batch+json; charset=utf-8");
    assert_eq!(headers["aeg-sas-key"], KEY);
    let sent: Vec<Value> = serde_json::from_slice(body).unwrap();
    let expected = fixture("p2-publish-cloudevents-batch.json");
    assert_eq!(sent.len(), 2);
    for event in &sent {
        // Plus the data version, an extension attribute (API 1.2, "Event versions"), which the fixture lacks.
        let mut members = sorted_keys(event);
        members.retain(|member| member != "dataversion");
        assert_eq!(members, sorted_keys(&expected[0]), "same members as fixture p2");
        assert_eq!(event["dataversion"], "1");
        assert_eq!(event["specversion"], "1.0");
        assert_eq!(event["source"], "/pieshop/inventory");
    }
    assert!(!String::from_utf8_lossy(body).contains("null"), "no null members are sent");
}

#[tokio::test]
async fn event_grid_schema_is_selectable_and_matches_the_fixture_shape() {
    let (url, topic) = topic(Vec::new()).await;
    publisher(url, Schema::EventGrid).publish(&events()).await.unwrap();
    let topic = topic.lock().unwrap();
    let (headers, _, body) = &topic.requests[0];
    assert_eq!(headers["content-type"], "application/json");
    let sent: Vec<Value> = serde_json::from_slice(body).unwrap();
    let expected = fixture("p1-publish-eventgrid-schema.json");
    for event in &sent {
        assert_eq!(sorted_keys(event), sorted_keys(&expected[0]), "same members as fixture p1");
    }
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_and_refusals_are_not() {
    let (url, topic_state) = topic(vec![StatusCode::TOO_MANY_REQUESTS, StatusCode::SERVICE_UNAVAILABLE]).await;
    publisher(url, Schema::CloudEvents).publish(&events()).await.unwrap();
    assert_eq!(topic_state.lock().unwrap().requests.len(), 3, "two retries, then accepted");

    let (url, topic_state) = topic(vec![StatusCode::BAD_REQUEST]).await;
    let error = publisher(url, Schema::CloudEvents).publish(&events()).await.unwrap_err();
    assert!(matches!(error, PublishError::Rejected(_)), "{error}");
    assert_eq!(topic_state.lock().unwrap().requests.len(), 1, "a 400 is not retried");
    assert!(!error.to_string().contains(KEY));
}

/// The official Python SDK (`azure-eventgrid`, `azure-core`) parses what was sent, in both schemas.
#[tokio::test]
async fn the_official_python_sdk_parses_what_was_sent() {
    let python_check = "import json,sys\n\
from azure.core.messaging import CloudEvent\n\
from azure.eventgrid import EventGridEvent\n\
kind, path = sys.argv[1], sys.argv[2]\n\
events = json.load(open(path))\n\
parse = CloudEvent.from_dict if kind == 'cloudevents' else EventGridEvent.from_dict\n\
parsed = [parse(e) for e in events]\n\
print(json.dumps([{'id': p.id, 'type': getattr(p, 'type', None) or p.event_type, 'subject': p.subject, 'data': p.data} for p in parsed]))\n";
    let available = std::process::Command::new("python3")
        .args(["-c", "import azure.eventgrid"])
        .status()
        .is_ok_and(|s| s.success());
    if !available {
        pieshop_testkit::engines::skip(
            "python3 with azure-eventgrid is not installed",
            "python3 -m pip install azure-eventgrid to run this check",
        );
        return;
    }
    for (schema, kind) in [(Schema::CloudEvents, "cloudevents"), (Schema::EventGrid, "eventgrid")] {
        let (url, topic) = topic(Vec::new()).await;
        let sent = events();
        publisher(url, schema).publish(&sent).await.unwrap();
        let body = topic.lock().unwrap().requests[0].2.clone();
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &body).unwrap();
        let output =
            std::process::Command::new("python3").args(["-c", python_check, kind]).arg(file.path()).output().unwrap();
        assert!(output.status.success(), "{kind}: {}", String::from_utf8_lossy(&output.stderr));
        let parsed: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
        for (event, read) in sent.iter().zip(&parsed) {
            assert_eq!(read["id"], event.id().to_string());
            assert_eq!(read["type"], event.kind().type_name());
            assert_eq!(read["subject"], event.stream().to_string());
            assert_eq!(read["data"]["version"], event.version().0);
        }
    }
}
