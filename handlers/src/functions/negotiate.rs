//! The `negotiate` function (`POST /api/negotiate`): where a SignalR client connects for live push. The official
//! client calls `<hub URL>/negotiate?negotiateVersion=1`, and the hub URL is `<origin>/api` both standalone and in
//! Azure. Standalone the answer is the direct form (this process is the hub); in Azure the redirect form (the
//! SignalR Service's client URL and a token for it). Shapes: TransportProtocols.md "POST negotiate", and
//! docs/protocol/push-deadletter-auth.md A1/A2.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::{Value, json};

use super::App;
use crate::http::Problem;
use crate::ports::push::Negotiation;

/// Answers the client's negotiate.
pub async fn negotiate(State(app): State<Arc<App>>) -> Response {
    match app.negotiator.negotiate().await {
        Ok(negotiation) => {
            let mut response = (StatusCode::OK, Json(body(&negotiation))).into_response();
            // A token is in it: no cache may keep it.
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        // The client then falls back (the dashboard to long-polling) and retries later.
        Err(error) => Problem::unavailable(&error).into_response(),
    }
}

/// The negotiate answer's JSON.
pub fn body(negotiation: &Negotiation) -> Value {
    match negotiation {
        Negotiation::Direct { connection_id, connection_token } => json!({
            "negotiateVersion": 1,
            "connectionId": connection_id,
            "connectionToken": connection_token,
            "availableTransports": [
                {"transport": "WebSockets", "transferFormats": ["Text"]},
                {"transport": "ServerSentEvents", "transferFormats": ["Text"]},
            ],
        }),
        Negotiation::Redirect { url, access_token } => json!({"url": url, "accessToken": access_token}),
    }
}
