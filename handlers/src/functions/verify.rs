//! The `verify` function (timer trigger, daily): reconciles the read model with the write model, logs any drift
//! and sets the `pieshop.verify.drift` gauge an alert watches.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::App;
use crate::application::operator::OperatorError;
use crate::host::envelope::InvocationResult;
use crate::http::Problem;

/// The route the host invokes the function at.
pub fn router() -> Router<Arc<App>> {
    Router::new().route("/verify", post(invoke))
}

/// `POST /verify`: the timer's `{Data, Metadata}` envelope in (its content is not needed), a report out.
pub async fn invoke(State(app): State<Arc<App>>) -> Response {
    match app.operator.scheduled_verify().await {
        Ok(verification) => {
            let mut logs: Vec<String> = verification.drift.iter().map(|d| format!("drift: {d}")).collect();
            logs.push(format!(
                "verify: {} difference(s), {} in flight",
                verification.drift.len(),
                verification.in_flight.len()
            ));
            InvocationResult::logs(logs).into_response()
        }
        Err(OperatorError::Store(error)) => Problem::from(&error).into_response(),
        Err(OperatorError::ReadModel(error)) => Problem::from(&error).into_response(),
    }
}
