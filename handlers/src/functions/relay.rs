//! The `relay` function (timer trigger; a background task standalone): republishes events left unpublished
//! and completes transfers whose second half has not happened. It is what makes "publish after commit" safe.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::command::{CommandService, TransferProgress};
use super::dispatch::Dispatcher;
use crate::app::App;
use crate::domain::Timestamp;
use crate::host::envelope::InvocationResult;
use crate::http::Problem;
use crate::ports::{StoreError, WriteStore};

/// Events handled per round trip to the store.
const BATCH: usize = 200;
/// At most this many rounds per pass, so one pass always ends.
const MAX_ROUNDS: usize = 50;

/// What one relay pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RelayReport {
    pub republished: usize,
    pub transfers_completed: usize,
    /// Events still unpublished because publishing failed again.
    pub failed: usize,
}

/// Sweeps the outbox and the pending transfers.
pub struct Relay {
    store: Arc<dyn WriteStore>,
    dispatcher: Dispatcher,
    /// Only events older than this are swept: younger ones are still being published by their command.
    min_age: Duration,
}

impl Relay {
    pub fn new(store: Arc<dyn WriteStore>, dispatcher: Dispatcher, min_age: Duration) -> Self {
        Self { store, dispatcher, min_age }
    }

    /// One pass: republish, then complete transfers.
    pub async fn run_once(&self, commands: &CommandService) -> Result<RelayReport, StoreError> {
        let before = Timestamp::now().minus(self.min_age);
        let mut report = RelayReport::default();
        for _ in 0..MAX_ROUNDS {
            let events = self.store.unpublished(before, BATCH).await?;
            if events.is_empty() {
                break;
            }
            if let Err(error) = self.dispatcher.dispatch(&events).await {
                tracing::warn!(%error, events = events.len(), "relay could not publish; will retry next pass");
                report.failed = events.len();
                break;
            }
            report.republished += events.len();
        }
        for transfer in self.store.pending_transfers(before, BATCH).await? {
            if let TransferProgress::Completed { .. } = commands.complete_transfer(&transfer).await {
                report.transfers_completed += 1;
            }
        }
        Ok(report)
    }

    /// Runs a pass every `interval` until the process ends (standalone only: Azure has the timer trigger).
    pub fn spawn_loop(app: Arc<App>, interval: Duration) {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match app.relay.run_once(&app.commands).await {
                    Ok(report) if report != RelayReport::default() => tracing::info!(?report, "relay pass"),
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "relay pass failed"),
                }
            }
        });
    }
}

/// `POST /relay`: the timer's `{Data, Metadata}` envelope in (its content is not needed), a report out.
pub async fn invoke(State(app): State<Arc<App>>) -> Response {
    match app.relay.run_once(&app.commands).await {
        Ok(report) => InvocationResult::logs(vec![format!(
            "relay: republished {} events, completed {} transfers, {} still failing",
            report.republished, report.transfers_completed, report.failed
        )])
        .into_response(),
        Err(error) => Problem::unavailable(&error).into_response(),
    }
}
