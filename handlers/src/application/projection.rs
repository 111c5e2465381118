//! Projecting events: decode each delivered event and apply it to the read model, idempotently and in any order.
//!
//! It succeeds only once the read model holds the event or a newer version and cached answers are invalidated,
//! so a failure makes the delivery retry. A malformed event is logged, counted and acknowledged: no retry can
//! fix it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use serde_json::Value;

use super::changes::Changes;
use super::group_apply::GroupApply;
use super::push_changes::PushChanges;
use crate::contract::event_json::{self, DecodeError};
use crate::domain::Event;
use crate::ports::read_model::Applied;
use crate::ports::{EventSink, ReadModel, ReadModelError, ResponseCache};

/// What became of one delivered event.
#[derive(Debug)]
pub enum Outcome {
    Applied(Event),
    Stale(Event),
    Malformed(DecodeError),
}

/// Applies delivered events to the read model.
pub struct Projection {
    writes: Arc<GroupApply>,
    changes: Changes,
    malformed: AtomicU64,
    /// Where applied events become push hints (none: nothing is pushed).
    push: Option<Arc<PushChanges>>,
}

impl Projection {
    pub fn new(read_model: Arc<dyn ReadModel>, cache: Arc<dyn ResponseCache>, changes: Changes) -> Self {
        Self {
            writes: GroupApply::new(read_model, cache, changes.clone()),
            changes,
            malformed: AtomicU64::new(0),
            push: None,
        }
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

    /// Counts a delivery that could not even be read as one (a malformed invocation).
    pub fn count_malformed(&self) {
        self.malformed.fetch_add(1, Ordering::Relaxed);
    }

    /// Decodes and applies payloads (each an object, a string of JSON, or a string of a string of JSON) in order,
    /// in one read-model write with whatever other deliveries are waiting (`group_apply.rs`); answers once the read
    /// model holds them and the cache is invalidated.
    pub async fn handle_all(&self, payloads: &[Value]) -> Result<Vec<Outcome>, ReadModelError> {
        let decoded: Vec<Result<Event, DecodeError>> = payloads.iter().map(event_json::decode).collect();
        let events: Vec<Event> = decoded.iter().filter_map(|d| d.as_ref().ok().cloned()).collect();
        let mut applied = self.writes.apply(events.clone()).await?.into_iter();
        let mut events = events.into_iter();
        let outcomes: Vec<Outcome> = decoded
            .into_iter()
            .map(|d| match d {
                Err(error) => {
                    self.malformed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%error, "malformed event acknowledged and dropped");
                    Outcome::Malformed(error)
                }
                Ok(_) => match (events.next(), applied.next()) {
                    (Some(event), Some(Applied::Applied)) => Outcome::Applied(event),
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
        self.handle_all(payloads).await.map(|_| ())
    }
}
