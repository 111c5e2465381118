//! The `relay` function (timer trigger): the timer's `{Data, Metadata}` envelope in (its content is not needed),
//! one pass of `application::relay`, a report out.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::App;
use crate::host::envelope::InvocationResult;
use crate::http::Problem;

/// The route the host invokes the function at.
pub fn router() -> Router<Arc<App>> {
    Router::new().route("/relay", post(invoke))
}

/// `POST /relay`: the timer's `{Data, Metadata}` envelope in (its content is not needed), a report out.
pub async fn invoke(State(app): State<Arc<App>>) -> Response {
    match app.relay.run_once().await {
        Ok(report) => {
            let mut logs = vec![format!(
                "relay: republished {} events, completed {} transfers, {} still failing",
                report.republished, report.transfers_completed, report.failed
            )];
            if report.markers_expired > 0 {
                logs.push(format!(
                    "relay: forgot {} command markers past the idempotency window",
                    report.markers_expired
                ));
            }
            InvocationResult::logs(logs).into_response()
        }
        Err(error) => Problem::from(&error).into_response(),
    }
}
