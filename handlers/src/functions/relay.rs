//! The `relay` function (timer trigger): the timer's `{Data, Metadata}` envelope in (its content is not needed),
//! one pass of `application::relay`, a report out.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::App;
use crate::host::envelope::InvocationResult;
use crate::http::Problem;

/// `POST /relay`: the timer's `{Data, Metadata}` envelope in (its content is not needed), a report out.
pub async fn invoke(State(app): State<Arc<App>>) -> Response {
    match app.relay.run_once().await {
        Ok(report) => InvocationResult::logs(vec![format!(
            "relay: republished {} events, completed {} transfers, {} still failing, forgot {} expired markers",
            report.republished, report.transfers_completed, report.failed, report.markers_expired
        )])
        .into_response(),
        Err(error) => Problem::from(&error).into_response(),
    }
}
