//! The dashboard page (`GET /` standalone, `GET /api/dashboard`): one HTML file with its script and styles
//! inline, embedded in the binary so it works offline and behind Easy Auth.

use axum::response::{Html, IntoResponse, Response};
use http::{HeaderValue, header};

const PAGE: &str = include_str!("../../assets/dashboard.html");

/// Serves the page.
pub async fn page() -> Response {
    let mut response = Html(PAGE).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
