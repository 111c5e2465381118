//! The `projection` function (Event Grid trigger): the host's `{Data, Metadata}` envelope in, the events
//! applied by `application::projection`, `{Outputs, Logs, ReturnValue}` out. A batch (`cardinality: many`) is one
//! invocation, applied as one read-model write. It answers 200 only when every event is applied, proven stale or
//! malformed; a 503 fails the whole invocation and Event Grid delivers it again, harmlessly: when the read model
//! failed, or when an event in it was written by a newer release (the others are applied all the same).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;

use super::App;
use crate::application::projection::Outcome;
use crate::host::envelope::{Invocation, InvocationResult};
use crate::http::Problem;

/// The Event Grid trigger's binding name in `functions/projection/function.json`.
pub const BINDING: &str = "eventGridEvent";

/// The route the host invokes the function at.
pub fn router() -> Router<Arc<App>> {
    Router::new().route("/projection", post(invoke))
}

fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Applied(e) => format!("projected {} {} v{}", e.kind().type_name(), e.stream(), e.version()),
        Outcome::Stale(e) => format!("ignored stale {} {} v{}", e.kind().type_name(), e.stream(), e.version()),
        Outcome::Malformed(error) => format!("dropped malformed event: {error}"),
        Outcome::Foreign(error) => format!("ignored: {error}"),
        Outcome::NotYetReadable(error) => format!("not acknowledged: {error}"),
    }
}

/// `POST /projection`: the host's `{Data, Metadata}` envelope in, `{Outputs, Logs, ReturnValue}` out.
/// A 500 fails the invocation, and Event Grid retries the delivery.
pub async fn invoke(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let payloads = match Invocation::parse(&body).map(|inv| inv.trigger_values(BINDING)) {
        Ok(payloads) => payloads,
        Err(error) => {
            app.projection.count_malformed();
            tracing::warn!(%error, "malformed invocation acknowledged");
            return InvocationResult::logs(vec![format!("dropped malformed invocation: {error}")]).into_response();
        }
    };
    match app.projection.handle_all(&payloads).await {
        Ok(outcomes) => match outcomes.iter().find(|o| matches!(o, Outcome::NotYetReadable(_))) {
            Some(newer) => Problem::unavailable(&describe(newer)).into_response(),
            None => InvocationResult::logs(outcomes.iter().map(describe).collect()).into_response(),
        },
        Err(error) => Problem::from(&error).into_response(),
    }
}
