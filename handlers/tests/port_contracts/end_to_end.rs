//! End to end on real engines: the app wired to Cosmos DB (the SDK's in-memory emulator), an Event Grid
//! topic, Elasticsearch and Redis. The topic is a stand-in for Event Grid plus the Functions host: it accepts
//! each published batch and delivers every event to the `projection` route in the host's envelope (the event
//! as indented JSON, encoded twice), retrying failures; at the end it delivers everything again, twice, shuffled.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::shuffle::shuffled;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use bytes::Bytes;
use pieshop::adapters::cosmos::CosmosWriteStore;
use pieshop::adapters::eventgrid::{EventGridPublisher, EventGridSettings, TopicAuth};
use pieshop::adapters::redis::{RedisCache, RedisSettings};
use pieshop::application::changes::Changes;
use pieshop::application::projection::Projection;
use pieshop::contract::event_json::Schema;
use pieshop::ports::{Adapters, WriteStore};
use pieshop_testkit::served;
use serde_json::{Value, json};

use crate::models::read_items;
use crate::support::{cosmos_client, elastic_read_model, engine};

/// The stand-in: every event it was given, and where to deliver.
struct Grid {
    delivered: Mutex<Vec<Value>>,
    projection_url: Mutex<String>,
    http: reqwest::Client,
}

impl Grid {
    /// Delivers one event as the Functions host would, retrying (as Event Grid does) until acknowledged.
    async fn deliver(&self, event: &Value) {
        let url = self.projection_url.lock().unwrap().clone();
        let indented = serde_json::to_string_pretty(event).unwrap();
        let envelope = json!({
            "Data": {"eventGridEvent": serde_json::to_string(&indented).unwrap()},
            "Metadata": {"sys": {"MethodName": "projection", "UtcNow": "2026-01-15T10:30:01Z", "RandGuid": uuid::Uuid::new_v4().to_string()}},
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let response = self.http.post(&url).json(&envelope).send().await;
            if response.as_ref().is_ok_and(|r| r.status() == 200) {
                let body: Value = response.unwrap().json().await.unwrap();
                assert!(body["Outputs"].is_object() && body["Logs"].is_array(), "host envelope expected: {body}");
                return;
            }
            assert!(Instant::now() < deadline, "projection kept failing for {event}");
            tokio::time::sleep(Duration::from_millis(50)).await; // Event Grid's own retry delay, shortened
        }
    }
}

async fn publish(State(grid): State<Arc<Grid>>, body: Bytes) -> StatusCode {
    let events: Vec<Value> = serde_json::from_slice(&body).unwrap();
    for event in events {
        grid.delivered.lock().unwrap().push(event.clone());
        let grid = grid.clone();
        tokio::spawn(async move { grid.deliver(&event).await });
    }
    StatusCode::OK
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn commands_in_queries_out_on_real_engines() {
    let Some(read_model) = elastic_read_model().await else { return };
    let Some(redis_url) = engine("REDIS_URL") else { return };

    let grid = Arc::new(Grid {
        delivered: Mutex::new(Vec::new()),
        projection_url: Mutex::new(String::new()),
        http: reqwest::Client::new(),
    });
    let topic = Router::new().route("/api/events", post(publish)).with_state(grid.clone());
    let topic_url = format!("{}/api/events", served::stand_in(topic).await);

    let (client, settings) = cosmos_client(Vec::new()).await;
    let store: Arc<dyn WriteStore> = Arc::new(CosmosWriteStore::from_client(&client, &settings).await.unwrap());
    let cache = Arc::new(
        RedisCache::new(
            &RedisSettings {
                url: azure_core::credentials::Secret::new(redis_url),
                entra_username: None,
                namespace: format!("t{}", uuid::Uuid::new_v4().simple()),
            },
            None,
        )
        .unwrap(),
    );
    let projection = Arc::new(Projection::new(read_model.clone(), cache.clone(), Changes::default()));
    let auth = TopicAuth::Key(azure_core::credentials::Secret::new("stand-in-key"));
    let publisher = Arc::new(
        EventGridPublisher::new(EventGridSettings { endpoint: topic_url, schema: Schema::CloudEvents, auth }).unwrap(),
    );
    let adapters = Adapters { write_store: store.clone(), publisher, read_model, cache, backend: "azure" };
    let app = served::serve(served::wiring(adapters, projection)).await;
    let base = app.base.clone();
    *grid.projection_url.lock().unwrap() = format!("{base}/projection");

    let http = reqwest::Client::new();
    let send = |body: Value| {
        let http = http.clone();
        let base = base.clone();
        async move { http.post(format!("{base}/api/commands")).json(&body).send().await.unwrap().status() }
    };
    let id = || uuid::Uuid::new_v4().to_string();
    assert_eq!(send(json!({"commandId": id(), "type": "defineProduct", "sku": "apple-pie", "name": "Apple Pie", "reorderLevel": 5})).await, 200);
    let writers = (0..4).map(|w| {
        async move {
            for n in 0..5u64 {
                let location = ["store-1", "store-2"][(w + n as usize) % 2];
                assert_eq!(send(json!({"commandId": id(), "type": "receive", "location": location, "sku": "apple-pie", "quantity": n + 2})).await, 200);
            }
        }
    });
    futures::future::join_all(writers).await;
    let transfer = json!({"commandId": id(), "type": "transfer", "from": "store-1", "to": "van", "sku": "apple-pie", "quantity": 3});
    assert_eq!(send(transfer).await, 200);
    assert_eq!(send(json!({"commandId": id(), "type": "remove", "location": "van", "sku": "apple-pie", "quantity": 1, "reason": "sold"})).await, 200);
    assert_eq!(send(json!({"commandId": id(), "type": "remove", "location": "van", "sku": "apple-pie", "quantity": 99, "reason": "sold"})).await, 409);

    // Converges: the read model (through the API, Redis in front) equals the write model.
    let expected = crate::models::write_items(store.as_ref()).await;
    assert_eq!(expected.len(), 3);
    let deadline = Instant::now() + Duration::from_secs(30);
    while read_items(&http, &base).await != expected {
        assert!(Instant::now() < deadline, "read model never matched the write model");
        let etag = http.get(format!("{base}/api/inventory?limit=500")).send().await.unwrap().headers()["etag"]
            .to_str()
            .unwrap()
            .to_owned();
        http.get(format!("{base}/api/inventory?limit=500&waitForChange={etag}&timeout=2")).send().await.unwrap();
    }

    // Every event again, twice, in shuffled order: nothing changes.
    let events = grid.delivered.lock().unwrap().clone();
    assert_eq!(events.len(), 24, "1 product + 20 receives + 2 transfer halves + 1 removal");
    let mut again = events.clone();
    again.extend(events.iter().cloned());
    for event in shuffled(&again, 7) {
        grid.deliver(&event).await;
    }
    assert_eq!(read_items(&http, &base).await, expected);
    let summary: Value = http.get(format!("{base}/api/inventory/summary")).send().await.unwrap().json().await.unwrap();
    let total: i64 = expected.iter().map(|(_, quantity, _)| *quantity).sum();
    assert_eq!(summary["products"][0]["total"], total);
    assert_eq!(summary["products"][0]["name"], "Apple Pie");
    let activity: Value =
        http.get(format!("{base}/api/activity?limit=500")).send().await.unwrap().json().await.unwrap();
    assert_eq!(activity["events"].as_array().unwrap().len(), 24, "each event once in the activity log");
}
