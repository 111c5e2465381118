//! The Event Grid stand-in: a custom topic that accepts publishes, and one subscription that delivers every
//! event to the app's `eventGridTrigger` function as the Functions host invokes it.
//!
//! Publishing follows `docs/protocol/functions-custom-handler.md` §6: `POST .../api/events?api-version=...`,
//! `aeg-sas-key` (header or query) or `Authorization: Bearer`, a JSON array in Event Grid schema
//! (`application/json`) or CloudEvents (`application/cloudevents-batch+json`), the required members of each
//! schema, 1 MB per request and per event; errors as `{"error": {"code", "message"}}`.
//!
//! Delivery follows Event Grid's documented policy (https://learn.microsoft.com/azure/event-grid/delivery-and-retry,
//! §4 of the protocol notes): at least once, no ordering (each delivery waits a random moment first, and with
//! `duplicate_rate` an event is delivered twice), one event per invocation, 30 s to answer, a failed
//! invocation retried on the schedule 10 s, 30 s, 1 min, 5 min, 10 min, 30 min, 1 h, 3 h, 6 h, then every 12 h
//! (divided by `time_scale`), up to `max_attempts` or the time to live, then dead-lettered into a directory laid
//! out as Event Grid's dead-letter blobs: `<SUBSCRIPTION-NAME>/<YYYY>/<M>/<D>/<H>/<guid>.json`, an array of
//! the events with the dead-letter properties (`docs/protocol/push-deadletter-auth.md` §B).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use rand::Rng;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::instances::Instances;
use crate::invoke::{self, InvocationError};

/// Event Grid's limit per request and per event.
const MAX_BYTES: usize = 1024 * 1024;
/// Event Grid's retry schedule, before scaling.
const SCHEDULE_SECONDS: [u64; 9] = [10, 30, 60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600];
const EVERY_12_HOURS: u64 = 12 * 3600;

/// How deliveries behave (the defaults are Event Grid's; tests compress time and add disorder).
#[derive(Debug, Clone)]
pub struct Policy {
    /// Retry waits and the time to live are divided by this (1 = real time).
    pub time_scale: f64,
    pub max_attempts: u32,
    pub ttl: Duration,
    /// Each delivery first waits a random 0..=jitter (no ordering between events).
    pub jitter: Duration,
    /// Chance that an event is delivered a second time (at least once).
    pub duplicate_rate: f64,
    /// How long Event Grid waits for an answer.
    pub timeout: Duration,
}

/// What became of one published event.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub id: String,
    pub subject: Option<String>,
    pub published_at: String,
    pub attempts: u32,
    /// Successful invocations (more than one when the event was delivered again).
    pub acknowledged: u32,
    /// The instance that acknowledged it first.
    pub acknowledged_by: Option<usize>,
    pub dead_lettered: Option<String>,
    pub last_error: Option<String>,
}

/// The topic and its one subscription.
pub struct Grid {
    pub key: String,
    /// The subscription's name (dead-letter folder, upper-cased as Event Grid does).
    pub subscription: String,
    pub function: String,
    pub binding: String,
    pub policy: Policy,
    pub dead_letter_dir: PathBuf,
    pub instances: Arc<Instances>,
    pub client: reqwest::Client,
    pub records: Mutex<BTreeMap<String, Record>>,
    /// Deliveries in flight at once. Event Grid's own concurrency is not documented; an unbounded stand-in would
    /// open a connection per event under a burst, so it is bounded (`--max-deliveries-in-flight`).
    pub in_flight: tokio::sync::Semaphore,
}

/// Which schema an event was published in (it is delivered in the same one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Schema {
    EventGrid,
    CloudEvents,
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({"error": {"code": code, "message": message.into()}}))).into_response()
}

/// `POST /eventgrid/api/events?api-version=2018-01-01`.
pub async fn publish(
    State(grid): State<Arc<Grid>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let query = query.unwrap_or_default();
    let param =
        |name: &str| form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    if param("api-version").is_none() {
        return error(StatusCode::BAD_REQUEST, "BadRequest", "The api-version query parameter is required.");
    }
    let key =
        headers.get("aeg-sas-key").and_then(|v| v.to_str().ok()).map(str::to_owned).or_else(|| param("aeg-sas-key"));
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let authorized = key.as_deref() == Some(grid.key.as_str()) || bearer.is_some_and(|t| !t.trim().is_empty());
    if !authorized {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized", "The request authorization key is not authorized.");
    }
    if body.len() > MAX_BYTES {
        return error(StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge", "The request exceeds 1 MB.");
    }
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let schema =
        if content_type.starts_with("application/cloudevents") { Schema::CloudEvents } else { Schema::EventGrid };
    // Kept as published (member order included): the host hands the trigger the event's own text.
    let raw: Vec<Box<RawValue>> = match serde_json::from_slice::<Vec<Box<RawValue>>>(&body) {
        Ok(events) => events,
        Err(_) if content_type.starts_with("application/cloudevents+json") => match serde_json::from_slice(&body) {
            Ok(event) => vec![event],
            Err(_) => return error(StatusCode::BAD_REQUEST, "BadRequest", "The body must be a CloudEvent."),
        },
        Err(_) => return error(StatusCode::BAD_REQUEST, "BadRequest", "The body must be a JSON array of events."),
    };
    let events: Vec<Value> = raw.iter().map(|r| serde_json::from_str(r.get()).unwrap_or(Value::Null)).collect();
    for (index, event) in events.iter().enumerate() {
        if let Err(message) = validate(schema, event) {
            return error(StatusCode::BAD_REQUEST, "BadRequest", format!("event {index}: {message}"));
        }
        if event.to_string().len() > MAX_BYTES {
            return error(StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge", format!("event {index} exceeds 1 MB."));
        }
    }
    for (event, raw) in events.into_iter().zip(raw) {
        grid.accept(event, raw.get().to_owned());
    }
    StatusCode::OK.into_response()
}

/// The members each schema requires (`EventGridEvent`, `CloudEventEvent` in the REST spec).
fn validate(schema: Schema, event: &Value) -> Result<(), String> {
    let text = |name: &str| event.get(name).and_then(Value::as_str).filter(|v| !v.is_empty());
    let required: &[&str] = match schema {
        Schema::EventGrid => &["id", "subject", "eventType", "eventTime", "dataVersion"],
        Schema::CloudEvents => &["id", "source", "specversion", "type"],
    };
    if let Some(missing) = required.iter().find(|name| text(name).is_none()) {
        return Err(format!("the required property '{missing}' is missing or empty"));
    }
    match schema {
        Schema::EventGrid if event.get("data").is_none() => Err("the required property 'data' is missing".into()),
        Schema::EventGrid if chrono::DateTime::parse_from_rfc3339(text("eventTime").unwrap_or("")).is_err() => {
            Err("'eventTime' is not a date-time".into())
        }
        Schema::CloudEvents if text("specversion") != Some("1.0") => Err("'specversion' must be 1.0".into()),
        _ => Ok(()),
    }
}

impl Grid {
    /// Records the event and starts its delivery (twice, at the duplicate rate); it is parsed once, here.
    fn accept(self: &Arc<Self>, event: Value, raw: String) {
        let id = event["id"].as_str().unwrap_or_default().to_owned();
        let record = Record {
            id: id.clone(),
            subject: event["subject"].as_str().map(str::to_owned),
            published_at: chrono::Utc::now().to_rfc3339(),
            attempts: 0,
            acknowledged: 0,
            acknowledged_by: None,
            dead_lettered: None,
            last_error: None,
        };
        self.records.lock().expect("records").entry(id).or_insert(record);
        let copies = if rand::rng().random_bool(self.policy.duplicate_rate.clamp(0.0, 1.0)) { 2 } else { 1 };
        let published = Arc::new((event, raw));
        for _ in 0..copies {
            tokio::spawn(self.clone().deliver(published.clone()));
        }
    }

    fn scaled(&self, duration: Duration) -> Duration {
        duration.div_f64(self.policy.time_scale.max(1e-9))
    }

    /// Delivers until acknowledged or out of attempts or time, then dead-letters.
    async fn deliver(self: Arc<Self>, published: Arc<(Value, String)>) {
        let (event, raw) = &*published;
        let id = event["id"].as_str().unwrap_or_default().to_owned();
        let started = tokio::time::Instant::now();
        let jitter = self.policy.jitter.as_millis() as u64;
        if jitter > 0 {
            let wait = Duration::from_millis(rand::rng().random_range(0..=jitter));
            tokio::time::sleep(wait).await;
        }
        let envelope = invoke::event_grid_envelope(&self.function, &self.binding, event, raw);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let permit = self.in_flight.acquire().await;
            let outcome = match self.instances.pick(None).await {
                None => Err((None, InvocationError::Unreachable("no instance is running".into()))),
                Some((instance, port)) => {
                    invoke::invoke(&self.client, port, &self.function, &envelope, self.policy.timeout)
                        .await
                        .map(|_| instance)
                        .map_err(|e| (Some(instance), e))
                }
            };
            drop(permit);
            if self.record_attempt(&id, outcome) {
                return;
            }
            let wait = SCHEDULE_SECONDS.get(attempt as usize - 1).copied().unwrap_or(EVERY_12_HOURS);
            let wait = self.scaled(Duration::from_secs(wait));
            if attempt >= self.policy.max_attempts || started.elapsed() + wait > self.scaled(self.policy.ttl) {
                self.dead_letter(event, attempt).await;
                return;
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Records one attempt; `true` when it was acknowledged.
    fn record_attempt(&self, id: &str, outcome: Result<usize, (Option<usize>, InvocationError)>) -> bool {
        let mut records = self.records.lock().expect("records");
        let record = records.get_mut(id).expect("recorded on publish");
        record.attempts += 1;
        match outcome {
            Ok(instance) => {
                record.acknowledged += 1;
                record.acknowledged_by.get_or_insert(instance);
                true
            }
            Err((instance, error)) => {
                tracing::warn!(event = %id, ?instance, attempt = record.attempts, %error, "delivery failed");
                record.last_error = Some(error.to_string());
                false
            }
        }
    }

    /// Writes the event into a dead-letter blob of its own, as Event Grid does after the last attempt.
    async fn dead_letter(&self, event: &Value, attempts: u32) {
        let now = chrono::Utc::now();
        let mut dead = event.clone();
        let at = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let (reason, outcome) = ("MaxDeliveryAttemptsExceeded", "Aborted");
        let properties = if event.get("specversion").is_some() {
            json!({"deadletterreason": reason, "deliveryattempts": attempts, "lastdeliveryoutcome": outcome,
                   "publishtime": at, "lastdeliveryattempttime": at})
        } else {
            json!({"deadLetterReason": reason, "deliveryAttempts": attempts, "lastDeliveryOutcome": outcome,
                   "publishTime": at, "lastDeliveryAttemptTime": at})
        };
        if let (Some(dead), Some(properties)) = (dead.as_object_mut(), properties.as_object()) {
            dead.extend(properties.clone());
        }
        use chrono::{Datelike, Timelike};
        let folder = self.dead_letter_dir.join(self.subscription.to_uppercase()).join(format!(
            "{}/{}/{}/{}",
            now.year(),
            now.month(),
            now.day(),
            now.hour()
        ));
        let path = folder.join(format!("{}.json", uuid::Uuid::new_v4()));
        let written = async {
            tokio::fs::create_dir_all(&folder).await?;
            let partial = path.with_extension("partial");
            tokio::fs::write(&partial, serde_json::to_vec(&json!([dead]))?).await?;
            tokio::fs::rename(&partial, &path).await
        };
        let id = event["id"].as_str().unwrap_or_default();
        match written.await {
            Ok(()) => tracing::error!(event = %id, path = %path.display(), "dead-lettered"),
            Err(error) => tracing::error!(event = %id, %error, "dead-letter write failed; the event is dropped"),
        }
        if let Some(record) = self.records.lock().expect("records").get_mut(id) {
            record.dead_lettered = Some(path.display().to_string());
        }
    }
}

/// `GET /funchost/events/summary`: how many events were published, acknowledged and dead-lettered (cheap to
/// poll, unlike the whole list).
pub async fn summary(State(grid): State<Arc<Grid>>) -> Response {
    let records = grid.records.lock().expect("records");
    let acknowledged = records.values().filter(|r| r.acknowledged > 0).count();
    let dead_lettered = records.values().filter(|r| r.dead_lettered.is_some()).count();
    let body = json!({"published": records.len(), "acknowledged": acknowledged, "deadLettered": dead_lettered});
    drop(records);
    axum::Json(body).into_response()
}

/// `GET /funchost/events`: every published event and what became of it.
pub async fn records(State(grid): State<Arc<Grid>>) -> Response {
    let records: Vec<Record> = grid.records.lock().expect("records").values().cloned().collect();
    axum::Json(records).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    #[test]
    fn the_publish_fixtures_are_valid_and_missing_members_are_not() {
        for event in fixture("p1-publish-eventgrid-schema.json").as_array().unwrap() {
            validate(Schema::EventGrid, event).unwrap();
        }
        for event in fixture("p2-publish-cloudevents-batch.json").as_array().unwrap() {
            validate(Schema::CloudEvents, event).unwrap();
        }
        let mut event = fixture("p2-publish-cloudevents-batch.json")[0].clone();
        event.as_object_mut().unwrap().remove("source");
        assert!(validate(Schema::CloudEvents, &event).unwrap_err().contains("source"));
        let mut event = fixture("p1-publish-eventgrid-schema.json")[0].clone();
        event["eventTime"] = json!("yesterday");
        assert!(validate(Schema::EventGrid, &event).is_err());
    }
}
