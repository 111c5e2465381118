//! `GET /api/health` (a route of the `query` function): liveness, plus what an operator wants at a glance, read by
//! `application::health`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use http::HeaderMap;

use super::App;
use super::query::Conditional;
use crate::application::health::{self, HealthError, HealthReport};
use crate::contract::views::{self, Health};
use crate::http::{Problem, etag};

/// The route, open to every caller (a probe has no key).
pub fn router() -> Router<Arc<App>> {
    Router::new().route("/api/health", get(health))
}

/// `GET /api/health`: liveness plus what an operator wants at a glance.
#[utoipa::path(
    get,
    path = "/api/health",
    tag = "operations",
    operation_id = "health",
    summary = "Liveness, and what an operator wants at a glance",
    params(Conditional),
    responses(
        (status = 200, description = "Up.", body = Health, headers(("ETag" = String), ("Cache-Control" = String))),
        (status = 304, description = "The answer's ETag is in `If-None-Match`: no body.", headers(("ETag" = String))),
    ),
    security(())
)]
pub async fn health(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, Problem> {
    let report =
        health::report(&app.queries, &app.relay, &app.projection, &app.commands).await.map_err(|e| match &e {
            HealthError::ReadModel(e) => Problem::from(e),
            HealthError::Store(e) => Problem::from(e),
        })?;
    let body = serde_json::to_vec(&view(&app, report)).map_err(|e| Problem::internal(&e))?;
    Ok(etag::respond(&headers, body.into()))
}

fn view(app: &App, report: HealthReport) -> Health {
    let push = report.push.unwrap_or_default();
    Health {
        status: "ok",
        backend: app.backend,
        version: env!("CARGO_PKG_VERSION"),
        as_of: report.as_of.map(|t| t.to_string()),
        accepted_at: report.accepted_at.map(|t| t.to_string()),
        behind_ms: report.behind_ms,
        malformed_events: report.malformed_events,
        ignored_events: report.ignored_events,
        backlog: views::BacklogView {
            events: report.backlog.events,
            more: report.backlog.more,
            oldest_age_seconds: report.backlog.oldest_age.map(|age| age.as_secs_f64()),
        },
        lag_ms: report.lag.applied_at_millis.map(|_| report.lag.last_millis),
        push: views::PushView {
            hub: match (&app.hub, report.push) {
                (Some(_), _) => "self",
                (None, Some(_)) => "azure-signalr",
                (None, None) => "none",
            },
            clients: app.hub.as_ref().map(|hub| hub.sessions.clients()),
            sent: push.sent,
            failed: push.failed,
            dropped: push.dropped,
        },
    }
}
