//! The `negotiate` function (`POST /api/negotiate`): where a SignalR client connects for live push. The official
//! client calls `<hub URL>/negotiate?negotiateVersion=1`, and the hub URL is `<origin>/api` both standalone and in
//! Azure. Standalone the answer is the direct form (this process is the hub); in Azure the redirect form (the
//! SignalR Service's client URL and a token for it). Shapes: TransportProtocols.md "POST negotiate", and
//! docs/protocol/push-deadletter-auth.md A1/A2.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use utoipa::ToSchema;

use super::App;
use crate::http::Problem;
use crate::ports::push::Negotiation;

/// The function's route (behind the key: it hands out connection tokens).
pub fn router() -> Router<Arc<App>> {
    Router::new().route("/api/negotiate", post(negotiate))
}

/// Answers the client's negotiate.
#[utoipa::path(
    post,
    path = "/api/negotiate",
    tag = "push",
    operation_id = "negotiate",
    summary = "SignalR negotiate for hub `inventory` (the official client's own call)",
    description = "Standalone the direct form (this process is the hub: connect to `/api?id=<connectionToken>` over \
        WebSockets or Server-Sent Events); in Azure the redirect form (SignalR Service's client URL and a token). \
        Messages: `stockChanged` (the item as `GET /api/inventory/{location}/{sku}` shows it, plus `asOf`) and \
        `productChanged` (the product); a message is a hint.",
    params(("negotiateVersion" = Option<i32>, Query, minimum = 0,
        description = "The client's negotiate version (the official client sends 1; the answer says 1).")),
    responses(
        (status = 200, description = "Where and how to connect.", body = NegotiateResponse,
            headers(("Cache-Control" = String, description = "`no-store`: the answer holds a token"))),
        (status = 400, description = "`negotiateVersion` is not a non-negative 32-bit integer.",
            content_type = "application/problem+json", body = ref("#/components/schemas/InvalidRequestProblem")),
    )
)]
pub async fn negotiate(State(app): State<Arc<App>>, RawQuery(query): RawQuery) -> Response {
    if let Err(problem) = check_version(query.as_deref()) {
        return problem.into_response();
    }
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

/// `negotiateVersion`, when sent, is a non-negative 32-bit integer.
fn check_version(query: Option<&str>) -> Result<(), Problem> {
    let sent = form_urlencoded::parse(query.unwrap_or_default().as_bytes()).find(|(k, _)| k == "negotiateVersion");
    match sent {
        Some((_, v)) if v.parse::<i32>().map_or(true, |n| n < 0) => {
            Err(Problem::invalid_field("negotiateVersion", "must be an integer from 0 to 2147483647"))
        }
        _ => Ok(()),
    }
}

/// The negotiate answer: the direct form, or the redirect form (TransportProtocols.md, "POST negotiate").
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum NegotiateResponse {
    Direct(DirectNegotiation),
    Redirect(RedirectNegotiation),
}

/// This process is the hub: connect with the token.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DirectNegotiation {
    #[schema(example = 1)]
    pub negotiate_version: u32,
    pub connection_id: String,
    pub connection_token: String,
    pub available_transports: Vec<AvailableTransport>,
}

/// A transport the hub speaks, with the formats it carries.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AvailableTransport {
    #[schema(example = "WebSockets")]
    pub transport: &'static str,
    pub transfer_formats: Vec<&'static str>,
}

/// Go to SignalR Service with this token.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RedirectNegotiation {
    #[schema(example = "https://pieshop.service.signalr.net/client/?hub=inventory")]
    pub url: String,
    pub access_token: String,
}

/// The negotiate answer for `negotiation`.
pub fn body(negotiation: &Negotiation) -> NegotiateResponse {
    match negotiation {
        Negotiation::Direct { connection_id, connection_token } => NegotiateResponse::Direct(DirectNegotiation {
            negotiate_version: 1,
            connection_id: connection_id.clone(),
            connection_token: connection_token.clone(),
            available_transports: ["WebSockets", "ServerSentEvents"]
                .into_iter()
                .map(|transport| AvailableTransport { transport, transfer_formats: vec!["Text"] })
                .collect(),
        }),
        Negotiation::Redirect { url, access_token } => {
            NegotiateResponse::Redirect(RedirectNegotiation { url: url.clone(), access_token: access_token.clone() })
        }
    }
}
