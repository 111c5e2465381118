//! The `projection` function (Event Grid trigger): decodes one event and applies it to the read model.
//!
//! It acknowledges (200) only when the read model holds the event or a newer version, so a failure makes
//! Event Grid retry. A malformed event is logged, counted and acknowledged: no retry can fix it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::Value;

use crate::adapters::embedded::Subscriber;
use crate::app::App;
use crate::changes::Changes;
use crate::contract::event_json::{self, DecodeError};
use crate::domain::Event;
use crate::host::envelope::{Invocation, InvocationResult};
use crate::http::Problem;
use crate::ports::read_model::Applied;
use crate::ports::{ReadModel, ReadModelError, ResponseCache};

/// The Event Grid trigger's binding name in `functions/projection/function.json`.
pub const BINDING: &str = "eventGridEvent";

/// What became of one delivered event.
#[derive(Debug)]
pub enum Outcome {
    Applied(Event),
    Stale(Event),
    Malformed(DecodeError),
}

/// Applies delivered events to the read model.
pub struct Projection {
    read_model: Arc<dyn ReadModel>,
    cache: Arc<dyn ResponseCache>,
    changes: Changes,
    malformed: AtomicU64,
}

impl Projection {
    pub fn new(read_model: Arc<dyn ReadModel>, cache: Arc<dyn ResponseCache>, changes: Changes) -> Self {
        Self { read_model, cache, changes, malformed: AtomicU64::new(0) }
    }

    /// The change signal this projection raises (queries wait on it).
    pub fn changes(&self) -> Changes {
        self.changes.clone()
    }

    /// Malformed events acknowledged since start.
    pub fn malformed_count(&self) -> u64 {
        self.malformed.load(Ordering::Relaxed)
    }

    /// Decodes and applies one event payload (object, string of JSON, or string of a string of JSON).
    pub async fn handle(&self, payload: &Value) -> Result<Outcome, ReadModelError> {
        let event = match event_json::decode(payload) {
            Ok(event) => event,
            Err(error) => {
                self.malformed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%error, "malformed event acknowledged and dropped");
                return Ok(Outcome::Malformed(error));
            }
        };
        let applied = self.read_model.apply(&event).await?;
        // Before acknowledging: no cached answer computed before this event may be served after it.
        self.cache.invalidate().await.map_err(|e| ReadModelError::Unavailable(e.to_string()))?;
        self.changes.notify();
        Ok(match applied {
            Applied::Applied => Outcome::Applied(event),
            Applied::Stale => Outcome::Stale(event),
        })
    }
}

#[async_trait]
impl Subscriber for Projection {
    async fn deliver(&self, payload: &Value) -> Result<(), String> {
        self.handle(payload).await.map(|_| ()).map_err(|e| e.to_string())
    }
}

fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Applied(e) => format!("projected {} {} v{}", e.kind().type_name(), e.stream(), e.version()),
        Outcome::Stale(e) => format!("ignored stale {} {} v{}", e.kind().type_name(), e.stream(), e.version()),
        Outcome::Malformed(error) => format!("dropped malformed event: {error}"),
    }
}

/// `POST /projection`: the host's `{Data, Metadata}` envelope in, `{Outputs, Logs, ReturnValue}` out.
/// A 500 fails the invocation, and Event Grid retries the delivery.
pub async fn invoke(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let payloads = match Invocation::parse(&body).map(|inv| inv.trigger_values(BINDING)) {
        Ok(payloads) => payloads,
        Err(error) => {
            app.projection.malformed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%error, "malformed invocation acknowledged");
            return InvocationResult::logs(vec![format!("dropped malformed invocation: {error}")]).into_response();
        }
    };
    let mut logs = Vec::with_capacity(payloads.len());
    for payload in &payloads {
        match app.projection.handle(payload).await {
            Ok(outcome) => logs.push(describe(&outcome)),
            Err(error) => return Problem::unavailable(&error).into_response(),
        }
    }
    InvocationResult::logs(logs).into_response()
}
