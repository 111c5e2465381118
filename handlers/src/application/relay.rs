//! The relay: republishes events left unpublished and completes transfers whose second half has not happened.
//! It is what makes "publish after commit" safe. Each pass also forgets a bounded number of command markers past
//! the idempotency window (where the store does not expire them itself). In Azure a timer function runs it; standalone, a background task.

use std::sync::Arc;
use std::time::Duration;

use super::commands::CommandService;
use super::dispatch::Dispatcher;
use super::transfers::TransferProgress;
use std::sync::atomic::Ordering;

use tracing::Instrument;

use crate::domain::Timestamp;
use crate::ports::{Outbox, Retention, StoreError, Transfers};
use crate::telemetry::{metrics, trace_context};

/// Events handled per round trip to the store.
const BATCH: usize = 200;
/// At most this many rounds per pass, so one pass always ends.
const MAX_ROUNDS: usize = 50;
/// Most markers one pass forgets: a second's worth of a busy shop's commands, in one small write.
const EXPIRE_BATCH: usize = 1000;

/// What one relay pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RelayReport {
    pub republished: usize,
    pub transfers_completed: usize,
    /// Events still unpublished because publishing failed again.
    pub failed: usize,
    /// Command markers forgotten, past the idempotency window.
    pub markers_expired: usize,
}

/// Events committed and not yet published, as far as one look tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    /// How many (at most `BACKLOG_LOOK`).
    pub events: usize,
    /// Whether there are more than it counted.
    pub more: bool,
    /// The oldest one's age.
    pub oldest_age: Option<Duration>,
}

/// The most events one backlog look reads.
pub const BACKLOG_LOOK: usize = 500;

/// Sweeps the outbox and the pending transfers.
pub struct Relay {
    outbox: Arc<dyn Outbox>,
    transfers: Arc<dyn Transfers>,
    dispatcher: Dispatcher,
    commands: Arc<CommandService>,
    /// Only events older than this are swept: younger ones are still being published by their command.
    min_age: Duration,
    /// Where markers are forgotten, and after how long.
    retention: Option<(Arc<dyn Retention>, Duration)>,
}

impl Relay {
    pub fn new(
        outbox: Arc<dyn Outbox>,
        transfers: Arc<dyn Transfers>,
        dispatcher: Dispatcher,
        commands: Arc<CommandService>,
        min_age: Duration,
    ) -> Self {
        Self { outbox, transfers, dispatcher, commands, min_age, retention: None }
    }

    /// Also forgets command markers older than `window`, a bounded batch a pass.
    pub fn with_retention(mut self, retention: Arc<dyn Retention>, window: Duration) -> Self {
        self.retention = Some((retention, window));
        self
    }

    /// Events committed and not yet published, young ones included (for `/api/health`).
    pub async fn backlog(&self) -> Result<Backlog, StoreError> {
        let now = Timestamp::now();
        let events = self.outbox.unpublished(now, BACKLOG_LOOK + 1).await?;
        let oldest = events.iter().map(|e| e.recorded_at()).min();
        Ok(Backlog {
            events: events.len().min(BACKLOG_LOOK),
            more: events.len() > BACKLOG_LOOK,
            oldest_age: oldest.map(|t| Duration::from_secs_f64((now.unix_seconds() - t.unix_seconds()).max(0.0))),
        })
    }

    /// One pass: republish, then complete transfers. What it found waiting sets the outbox gauges.
    pub async fn run_once(&self) -> Result<RelayReport, StoreError> {
        let now = Timestamp::now();
        let before = now.minus(self.min_age);
        let mut report = RelayReport::default();
        let gauges = metrics::gauges();
        for round in 0..MAX_ROUNDS {
            let events = self.outbox.unpublished(before, BATCH).await?;
            if round == 0 {
                let oldest = events.iter().map(|e| e.recorded_at().unix_seconds()).reduce(f64::min);
                let age = oldest.map_or(0.0, |t| (now.unix_seconds() - t).max(0.0));
                gauges.oldest_age_seconds.store(age as u64, Ordering::Relaxed);
            }
            gauges.backlog.store((report.republished + events.len()) as u64, Ordering::Relaxed);
            if events.is_empty() {
                break;
            }
            let span = trace_context::events_span("relay publish", &events);
            if let Err(error) = self.dispatcher.dispatch(&events).instrument(span).await {
                tracing::warn!(%error, events = events.len(), "relay could not publish; will retry next pass");
                report.failed = events.len();
                break;
            }
            report.republished += events.len();
        }
        for transfer in self.transfers.pending_transfers(before, BATCH).await? {
            if let TransferProgress::Completed { .. } = self.commands.complete_transfer(&transfer).await {
                report.transfers_completed += 1;
            }
        }
        if let Some((retention, window)) = &self.retention {
            report.markers_expired = retention.expire_markers(now.minus(*window), EXPIRE_BATCH).await?;
        }
        Ok(report)
    }

    /// Runs a pass every `interval` until the process ends (standalone only: Azure has the timer trigger).
    pub fn spawn_loop(self: Arc<Self>, interval: Duration) {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match self.run_once().await {
                    Ok(report) if report != RelayReport::default() => tracing::info!(?report, "relay pass"),
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "relay pass failed"),
                }
            }
        });
    }
}
