//! Projecting events: decode each delivered event and apply it to the read model, idempotently and in any order.
//!
//! It succeeds only once the read model holds the event or a newer version and cached answers are invalidated,
//! so a failure makes the delivery retry. A malformed event (not an event, or breaking its own version's shape)
//! is logged, counted and acknowledged: no retry can fix it. Another publisher's event (a type outside
//! `pieshop.`) is an event, just not ours: acknowledged and counted as ignored. A pieshop event of a type or data
//! version this release does not read is `NotYetReadable`: the delivery must fail, so Event Grid retries it and
//! at worst dead-letters it for a newer release (API.md, "Event versions").

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use serde_json::Value;

use super::changes::Changes;
use super::group_apply::GroupApply;
use super::push_changes::PushChanges;
use crate::contract::event_json::{DecodeError, Readers};
use crate::domain::{Event, Timestamp};
use crate::ports::read_model::Applied;
use crate::ports::{EventSink, ReadModel, ReadModelError, ResponseCache};
use crate::telemetry::{metrics, trace_context};
use tracing::Instrument;

/// What became of one delivered event.
#[derive(Debug)]
pub enum Outcome {
    Applied(Event),
    Stale(Event),
    Malformed(DecodeError),
    /// Another publisher's event: acknowledged, not applied, counted as ignored (not as malformed).
    Foreign(DecodeError),
    /// Written by a newer release: not applied, and the delivery must not be acknowledged.
    NotYetReadable(DecodeError),
}

/// Applies delivered events to the read model.
pub struct Projection {
    writes: Arc<GroupApply>,
    changes: Changes,
    malformed: AtomicU64,
    /// Other publishers' events acknowledged since start.
    ignored: AtomicU64,
    /// The data versions it reads.
    readers: Readers,
    /// Where applied events become push hints (none: nothing is pushed).
    push: Option<Arc<PushChanges>>,
    lag: LagWatch,
}

/// How far behind its events this projection applies them: the last lag seen, for `/api/health`, and every one
/// into the `pieshop.projection.lag` histogram.
#[derive(Default)]
struct LagWatch {
    last_millis: AtomicU64,
    /// When the last event was applied (Unix milliseconds; 0: none yet).
    last_applied: AtomicU64,
}

/// The projection's last observed lag.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lag {
    /// From the last applied event's `recordedAt` to the read model holding it.
    pub last_millis: u64,
    /// When that was (Unix milliseconds), if any event has been applied since the process started.
    pub applied_at_millis: Option<u64>,
}

impl LagWatch {
    fn observe(&self, event: &Event) {
        let now = Timestamp::now();
        let millis = ((now.unix_seconds() - event.recorded_at().unix_seconds()) * 1000.0).max(0.0);
        metrics::metrics().projection_lag.record(millis, &[]);
        self.last_millis.store(millis as u64, Ordering::Relaxed);
        self.last_applied.store((now.unix_seconds() * 1000.0) as u64, Ordering::Relaxed);
    }
}

impl Projection {
    pub fn new(read_model: Arc<dyn ReadModel>, cache: Arc<dyn ResponseCache>, changes: Changes) -> Self {
        Self {
            writes: GroupApply::new(read_model, cache, changes.clone()),
            changes,
            malformed: AtomicU64::new(0),
            ignored: AtomicU64::new(0),
            readers: Readers::default(),
            push: None,
            lag: LagWatch::default(),
        }
    }

    /// The last lag this process saw (each instance sees the events delivered to it).
    pub fn lag(&self) -> Lag {
        let applied = self.lag.last_applied.load(Ordering::Relaxed);
        Lag {
            last_millis: self.lag.last_millis.load(Ordering::Relaxed),
            applied_at_millis: (applied > 0).then_some(applied),
        }
    }

    /// Reads the data versions `readers` knows (a newer release's upcasts) instead of this release's alone.
    pub fn with_readers(mut self, readers: Readers) -> Self {
        self.readers = readers;
        self
    }

    /// Hands every applied event to `push` (after the read model holds it).
    pub fn with_push(mut self, push: Arc<PushChanges>) -> Self {
        self.push = Some(push);
        self
    }

    /// The push hints' queue, if any.
    pub fn push(&self) -> Option<&Arc<PushChanges>> {
        self.push.as_ref()
    }

    /// The change signal this projection raises (queries wait on it).
    pub fn changes(&self) -> Changes {
        self.changes.clone()
    }

    /// Malformed events acknowledged since start.
    pub fn malformed_count(&self) -> u64 {
        self.malformed.load(Ordering::Relaxed)
    }

    /// Other publishers' events acknowledged and ignored since start.
    pub fn ignored_count(&self) -> u64 {
        self.ignored.load(Ordering::Relaxed)
    }

    /// Counts a delivery that could not even be read as one (a malformed invocation).
    pub fn count_malformed(&self) {
        self.malformed.fetch_add(1, Ordering::Relaxed);
    }

    /// Decodes and applies payloads (each an object, a string of JSON, or a string of a string of JSON) in order,
    /// in one read-model write with whatever other deliveries are waiting (`group_apply.rs`); answers once the read
    /// model holds them and the cache is invalidated.
    pub async fn handle_all(&self, payloads: &[Value]) -> Result<Vec<Outcome>, ReadModelError> {
        let decoded: Vec<Result<Event, DecodeError>> = payloads.iter().map(|p| self.readers.decode(p)).collect();
        let events: Vec<Event> = decoded.iter().filter_map(|d| d.as_ref().ok().cloned()).collect();
        let span = trace_context::events_span("project", &events);
        let mut applied = self.writes.apply(events.clone()).instrument(span.clone()).await?.into_iter();
        let _inside = span.enter();
        tracing::debug!(events = events.len(), "projected");
        let mut events = events.into_iter();
        let outcomes: Vec<Outcome> = decoded
            .into_iter()
            .map(|d| match d {
                Err(error) if error.is_not_yet_readable() => {
                    tracing::warn!(%error, "event of a newer release not acknowledged");
                    Outcome::NotYetReadable(error)
                }
                Err(error) if error.is_foreign() => {
                    self.ignored.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(%error, "another publisher's event acknowledged and ignored");
                    Outcome::Foreign(error)
                }
                Err(error) => {
                    self.malformed.fetch_add(1, Ordering::Relaxed);
                    metrics::metrics().malformed.add(1, &[]);
                    tracing::warn!(%error, "malformed event acknowledged and dropped");
                    Outcome::Malformed(error)
                }
                Ok(_) => match (events.next(), applied.next()) {
                    (Some(event), Some(Applied::Applied)) => {
                        self.lag.observe(&event);
                        Outcome::Applied(event)
                    }
                    (Some(event), _) => Outcome::Stale(event),
                    (None, _) => unreachable!("one event per decoded payload"),
                },
            })
            .collect();
        if let Some(push) = &self.push {
            push.applied(outcomes.iter().filter_map(|o| match o {
                Outcome::Applied(event) => Some(event),
                _ => None,
            }));
        }
        Ok(outcomes)
    }
}

#[async_trait]
impl EventSink for Projection {
    async fn deliver(&self, payloads: &[Value]) -> Result<(), ReadModelError> {
        let outcomes = self.handle_all(payloads).await?;
        match outcomes.into_iter().find_map(|o| match o {
            Outcome::NotYetReadable(error) => Some(error),
            _ => None,
        }) {
            // Left unpublished, so the relay offers it again (to a newer release, once one runs).
            Some(error) => Err(ReadModelError::Unavailable(error.to_string().into())),
            None => Ok(()),
        }
    }
}
