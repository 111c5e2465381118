//! The dashboard page (`GET /` standalone, `GET /api/dashboard`): one HTML file with its script and styles
//! inline, embedded in the binary so it works offline and behind Easy Auth.

use std::sync::Arc;

use axum::Router;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use http::{HeaderValue, header};

use super::App;

const PAGE: &str = include_str!("../../assets/dashboard.html");
/// The official SignalR browser client the page connects with (vendored from npm: no CDN, works offline).
const SIGNALR: &str = include_str!("../../assets/signalr.min.js");

/// The page and its client, open to every caller (under function keys the page asks for one).
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(page))
        .route("/api/dashboard", get(page))
        .route("/api/dashboard/signalr.min.js", get(signalr))
}

/// Serves the page.
#[utoipa::path(
    get,
    path = "/api/dashboard",
    tag = "operations",
    operation_id = "dashboard",
    summary = "The dashboard (standalone also at `/`)",
    responses((status = 200, description = "The page; under function keys open it as `?code=<key>`.",
        content_type = "text/html", body = String)),
    security(())
)]
pub async fn page() -> Response {
    let mut response = Html(PAGE).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// Serves the SignalR client (`GET /api/dashboard/signalr.min.js`: under the `query` function's route in Azure, so
/// the page fetches it with its function key like any other call).
pub async fn signalr() -> Response {
    let mut response = SIGNALR.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
