//! Reads a JSON request body with a size limit and a content-type check, answering problems for both.

use axum::body::Body;
use http::{HeaderMap, header};
use serde_json::Value;

use super::Problem;

/// Single commands: 64 KiB.
pub const COMMAND_LIMIT: usize = 64 * 1024;
/// Batches: 1 MiB.
pub const BATCH_LIMIT: usize = 1024 * 1024;

/// The body as JSON, or the problem that says why not.
pub async fn json_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Value, Problem> {
    if !is_json(headers) {
        return Err(Problem::unsupported_media_type());
    }
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(Problem::payload_too_large(limit));
    }
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| Problem::payload_too_large(limit))?;
    if bytes.is_empty() {
        return Err(Problem::invalid_field("$", "the body is empty; send a JSON object"));
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        Problem::invalid_field("$", &format!("not valid JSON (line {}, column {}): {}", e.line(), e.column(), e))
    })
}

/// `application/json`, with any parameters (`charset=utf-8`).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}
