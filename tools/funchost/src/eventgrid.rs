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
//! `duplicate_rate` an event is delivered twice), up to `maxEventsPerBatch` events (within
//! `preferredBatchSizeInKilobytes`) per delivery, all or none, 30 s to answer, a failed delivery retried whole on
//! the schedule 10 s, 30 s, 1 min, 5 min, 10 min, 30 min, 1 h, 3 h, 6 h, then every 12 h
//! (divided by `time_scale`), up to `max_attempts` or the time to live, then dead-lettered into a directory laid
//! out as Event Grid's dead-letter blobs: `<SUBSCRIPTION-NAME>/<YYYY>/<M>/<D>/<H>/<guid>.json`, an array of
//! the events with the dead-letter properties (`docs/protocol/push-deadletter-auth.md` §B). How a delivery becomes
//! invocations (one per event, or the whole batch with `cardinality: many`) follows the host's and the Event Grid
//! extension's source: `docs/protocol/eventgrid-batches.md`.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use rand::Rng;
use rand::seq::SliceRandom;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use tokio::sync::OwnedSemaphorePermit;

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
    /// The subscription's `maxEventsPerBatch` (1, Event Grid's default: one event per delivery).
    pub max_events_per_batch: usize,
    /// The subscription's `preferredBatchSizeInKilobytes`, in bytes.
    pub preferred_batch_bytes: usize,
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
    /// From its publish to its first acknowledgement, in milliseconds: the Event Grid leg of accepted -> visible.
    pub acknowledged_after_ms: Option<f64>,
    #[serde(skip)]
    published: Option<tokio::time::Instant>,
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
    /// The trigger's `cardinality: many`: one invocation per delivery rather than per event.
    pub many: bool,
    pub policy: Policy,
    /// Who may set faults (the master key).
    pub keys: crate::keys::Keys,
    pub faults: Mutex<Faults>,
    pub dead_letter_dir: PathBuf,
    pub instances: Arc<Instances>,
    pub client: reqwest::Client,
    pub records: Mutex<BTreeMap<String, Record>>,
    /// Deliveries in flight at once. Event Grid's own concurrency is not documented; an unbounded stand-in would
    /// open a connection per event under a burst, so it is bounded (`--max-deliveries-in-flight`). While every
    /// slot is taken, published events queue and leave together in the next batch.
    pub in_flight: Arc<tokio::sync::Semaphore>,
    pub pending: Mutex<VecDeque<Arc<Published>>>,
    pub pending_ready: tokio::sync::Notify,
    /// HTTP deliveries attempted and handler invocations made (more than deliveries without `cardinality: many`).
    pub deliveries: AtomicU64,
    pub invocations: AtomicU64,
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
    grid.accept(schema, events.into_iter().zip(raw.into_iter().map(|r| r.get().to_owned())));
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

/// One published event as the subscription holds it.
pub struct Published {
    id: String,
    schema: Schema,
    event: Value,
    /// Its JSON text as published (the host hands the trigger the event's own text).
    raw: String,
}

impl Grid {
    /// Records one publish's events and queues them for delivery together (each twice, at the duplicate rate);
    /// each is parsed once, here.
    fn accept(&self, schema: Schema, events: impl Iterator<Item = (Value, String)>) {
        let mut queued = Vec::new();
        let mut records = self.records.lock().expect("records");
        for (event, raw) in events {
            let id = event["id"].as_str().unwrap_or_default().to_owned();
            let record = Record {
                id: id.clone(),
                subject: event["subject"].as_str().map(str::to_owned),
                published_at: chrono::Utc::now().to_rfc3339(),
                attempts: 0,
                acknowledged: 0,
                acknowledged_by: None,
                acknowledged_after_ms: None,
                published: Some(tokio::time::Instant::now()),
                dead_lettered: None,
                last_error: None,
            };
            records.entry(id.clone()).or_insert(record);
            let copies = if rand::rng().random_bool(self.policy.duplicate_rate.clamp(0.0, 1.0)) { 2 } else { 1 };
            let published = Arc::new(Published { id, schema, event, raw });
            queued.extend(std::iter::repeat_n(published, copies));
        }
        drop(records);
        self.pending.lock().expect("pending").extend(queued);
        self.pending_ready.notify_one();
    }

    /// The subscription's sender: whenever a delivery may start (`in_flight`), it takes what is queued as one
    /// batch (Event Grid's batching is optimistic: it does not wait to fill one) and starts its delivery.
    pub async fn dispatch(self: Arc<Self>) {
        loop {
            // First something to send, then a free slot (retries wait for slots too): what is published
            // meanwhile joins the batch.
            loop {
                let queued = self.pending_ready.notified();
                if !self.faults().paused && !self.pending.lock().expect("pending").is_empty() {
                    break;
                }
                queued.await;
            }
            let permit = self.in_flight.clone().acquire_owned().await.expect("the semaphore is never closed");
            if let Some(batch) = self.take_batch() {
                tokio::spawn(self.clone().deliver(batch, permit));
            }
        }
    }

    /// The oldest queued events in one schema, up to `maxEventsPerBatch` and, past the first,
    /// `preferredBatchSizeInKilobytes`.
    fn take_batch(&self) -> Option<Vec<Arc<Published>>> {
        let mut pending = self.pending.lock().expect("pending");
        let first = pending.pop_front()?;
        let mut bytes = first.raw.len();
        let mut batch = vec![first];
        while batch.len() < self.policy.max_events_per_batch {
            let Some(next) = pending.front() else { break };
            if next.schema != batch[0].schema || bytes + next.raw.len() > self.policy.preferred_batch_bytes {
                break;
            }
            bytes += next.raw.len();
            batch.extend(pending.pop_front());
        }
        Some(batch)
    }

    fn scaled(&self, duration: Duration) -> Duration {
        duration.div_f64(self.policy.time_scale.max(1e-9))
    }

    /// Delivers one batch until acknowledged or out of attempts or time, then dead-letters it; all or none, as
    /// Event Grid does (a failed batch is retried whole).
    async fn deliver(self: Arc<Self>, mut batch: Vec<Arc<Published>>, permit: OwnedSemaphorePermit) {
        let started = tokio::time::Instant::now();
        let jitter = self.policy.jitter.as_millis() as u64;
        if jitter > 0 {
            let wait = Duration::from_millis(rand::rng().random_range(0..=jitter));
            tokio::time::sleep(wait).await;
            batch.shuffle(&mut rand::rng());
        }
        let mut permit = Some(permit);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let held = match permit.take() {
                Some(held) => held,
                None => self.in_flight.clone().acquire_owned().await.expect("the semaphore is never closed"),
            };
            let outcome = self.invoke_once(&batch).await;
            drop(held);
            if self.record_attempt(&batch, outcome) {
                return;
            }
            let wait = SCHEDULE_SECONDS.get(attempt as usize - 1).copied().unwrap_or(EVERY_12_HOURS);
            let wait = self.scaled(Duration::from_secs(wait));
            if attempt >= self.policy.max_attempts || started.elapsed() + wait > self.scaled(self.policy.ttl) {
                self.dead_letter(&batch, attempt).await;
                return;
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// One HTTP delivery of the batch to one instance, as the Event Grid extension runs it: with `cardinality:
    /// many` one invocation of the whole batch; else one invocation per event, all at once, and the delivery
    /// fails if any of them does (`ProcessEventsAsync`, `docs/protocol/eventgrid-batches.md`).
    async fn invoke_once(&self, batch: &[Arc<Published>]) -> Result<usize, (Option<usize>, InvocationError)> {
        self.deliveries.fetch_add(1, Ordering::Relaxed);
        let Some((instance, port)) = self.instances.pick(None).await else {
            return Err((None, InvocationError::Unreachable("no instance is running".into())));
        };
        let faults = self.faults();
        let timeout = faults.timeout.unwrap_or(self.policy.timeout);
        let envelopes: Vec<Value> = if self.many {
            let events: Vec<(&Value, &str)> = batch.iter().map(|p| (&p.event, p.raw.as_str())).collect();
            vec![invoke::event_grid_batch_envelope(&self.function, &self.binding, &events)]
        } else {
            batch.iter().map(|p| invoke::event_grid_envelope(&self.function, &self.binding, &p.event, &p.raw)).collect()
        };
        self.invocations.fetch_add(envelopes.len() as u64, Ordering::Relaxed);
        let calls = envelopes.iter().map(|e| invoke::invoke(&self.client, port, &self.function, e, timeout));
        let results = futures::future::join_all(calls).await;
        if let Some(error) = results.into_iter().find_map(Result::err) {
            return Err((Some(instance), error));
        }
        // An injected failure after the work was done: the answer is lost on its way back, so Event Grid delivers
        // again what the handler already applied.
        if faults.error_rate > 0.0 && rand::rng().random_bool(faults.error_rate.clamp(0.0, 1.0)) {
            return Err((Some(instance), InvocationError::Status(500)));
        }
        Ok(instance)
    }

    fn faults(&self) -> Faults {
        *self.faults.lock().expect("faults")
    }

    /// Records one attempt for every event of the batch; `true` when it was acknowledged.
    fn record_attempt(
        &self,
        batch: &[Arc<Published>],
        outcome: Result<usize, (Option<usize>, InvocationError)>,
    ) -> bool {
        let mut records = self.records.lock().expect("records");
        if let Err((instance, error)) = &outcome {
            let first = batch.first().map(|p| p.id.as_str()).unwrap_or_default();
            tracing::warn!(event = %first, events = batch.len(), ?instance, %error, "delivery failed");
        }
        for published in batch {
            let record = records.get_mut(&published.id).expect("recorded on publish");
            record.attempts += 1;
            match &outcome {
                Ok(instance) => {
                    record.acknowledged += 1;
                    record.acknowledged_by.get_or_insert(*instance);
                    if record.acknowledged_after_ms.is_none() {
                        record.acknowledged_after_ms = record.published.map(|at| at.elapsed().as_secs_f64() * 1000.0);
                    }
                }
                Err((_, error)) => record.last_error = Some(error.to_string()),
            }
        }
        outcome.is_ok()
    }

    /// Writes the batch's events into one dead-letter blob ("one or more events in an array"), as Event Grid does
    /// after the last attempt.
    async fn dead_letter(&self, batch: &[Arc<Published>], attempts: u32) {
        let now = chrono::Utc::now();
        let at = now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let (reason, outcome) = ("MaxDeliveryAttemptsExceeded", "Aborted");
        let dead: Vec<Value> = batch
            .iter()
            .map(|published| {
                let mut dead = published.event.clone();
                let properties = match published.schema {
                    Schema::CloudEvents => json!({"deadletterreason": reason, "deliveryattempts": attempts,
                        "lastdeliveryoutcome": outcome, "publishtime": at, "lastdeliveryattempttime": at}),
                    Schema::EventGrid => json!({"deadLetterReason": reason, "deliveryAttempts": attempts,
                        "lastDeliveryOutcome": outcome, "publishTime": at, "lastDeliveryAttemptTime": at}),
                };
                if let (Some(dead), Value::Object(properties)) = (dead.as_object_mut(), properties) {
                    dead.extend(properties);
                }
                dead
            })
            .collect();
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
            tokio::fs::write(&partial, serde_json::to_vec(&dead)?).await?;
            tokio::fs::rename(&partial, &path).await
        };
        let first = batch.first().map(|p| p.id.as_str()).unwrap_or_default();
        match written.await {
            Ok(()) => tracing::error!(event = %first, events = batch.len(), path = %path.display(), "dead-lettered"),
            Err(error) => {
                tracing::error!(event = %first, events = batch.len(), %error, "dead-letter write failed; dropped")
            }
        }
        let mut records = self.records.lock().expect("records");
        for published in batch {
            if let Some(record) = records.get_mut(&published.id) {
                record.dead_lettered = Some(path.display().to_string());
            }
        }
    }
}

/// Faults an operator (the fault run) injects into deliveries while funchost runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Event Grid's answer time, shortened (slow invocations time out and are delivered again, maybe elsewhere).
    pub timeout: Option<Duration>,
    /// Chance that a delivery the handler answered is failed with a 500 anyway (the answer lost on the way).
    pub error_rate: f64,
    /// No new delivery starts: published events queue, as behind an endpoint that is not taking them, and leave
    /// in full batches once resumed (the bench times a backlog's catch-up without timing its own publishing).
    pub paused: bool,
}

/// `PUT /funchost/faults` (master key), `{"timeoutMs": n | null, "errorRate": 0-1, "paused": bool}`: what
/// deliveries suffer from now on; `{}` clears them all.
pub async fn set_faults(
    State(grid): State<Arc<Grid>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let presented = crate::keys::presented(&headers, query.as_deref());
    if !grid.keys.allows("", crate::app::AuthLevel::Admin, presented.as_deref()) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "BadRequest", "The body must be a JSON object.");
    };
    let timeout = body.get("timeoutMs").and_then(Value::as_u64).map(Duration::from_millis);
    let error_rate = body.get("errorRate").and_then(Value::as_f64).unwrap_or(0.0);
    if !(0.0..=1.0).contains(&error_rate) {
        return error(StatusCode::BAD_REQUEST, "BadRequest", "errorRate must be between 0 and 1.");
    }
    let paused = body.get("paused").and_then(Value::as_bool).unwrap_or(false);
    *grid.faults.lock().expect("faults") = Faults { timeout, error_rate, paused };
    grid.pending_ready.notify_one(); // a paused sender looks at the queue again
    tracing::warn!(?timeout, error_rate, paused, "delivery faults set");
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /funchost/events/summary`: how many events were published, acknowledged and dead-lettered (cheap to
/// poll, unlike the whole list). With `?latency=true` also `acknowledgedAfterMs`: percentiles of publish -> first
/// acknowledgement over every acknowledged event (a sort, so only on request: pollers leave it off).
pub async fn summary(State(grid): State<Arc<Grid>>, RawQuery(query): RawQuery) -> Response {
    let records = grid.records.lock().expect("records");
    let acknowledged = records.values().filter(|r| r.acknowledged > 0).count();
    let dead_lettered = records.values().filter(|r| r.dead_lettered.is_some()).count();
    let (deliveries, invocations) = (grid.deliveries.load(Ordering::Relaxed), grid.invocations.load(Ordering::Relaxed));
    let mut body = json!({"published": records.len(), "acknowledged": acknowledged, "deadLettered": dead_lettered,
                          "deliveries": deliveries, "invocations": invocations});
    if query.as_deref().is_some_and(|q| q.contains("latency=true")) {
        let mut after: Vec<f64> = records.values().filter_map(|r| r.acknowledged_after_ms).collect();
        after.sort_by(f64::total_cmp);
        let at = |q: f64| after.get(((after.len() as f64 * q) as usize).min(after.len().saturating_sub(1))).copied();
        body["acknowledgedAfterMs"] = json!({"p50": at(0.5), "p99": at(0.99), "max": after.last(), "n": after.len()});
    }
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
