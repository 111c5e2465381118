//! The request log: a line for every request that needs someone's attention, at a level that says how much.
//!
//! Failures (5xx) are warnings, refusals (4xx) info, everything else debug (`RUST_LOG=debug` shows every
//! request). An info line per success was ~8% of the handler's CPU at 8,500 commands/s and 1 GB of log an
//! hour (docs/PERFORMANCE.md); in Azure the Functions host records every invocation anyway. Each line has the
//! method, the path (never the query string: it may carry a function key), the status and the latency.

use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::telemetry::trace_context;

/// The invocation id the Functions host adds to every request it forwards (protocol notes, section 2).
const INVOCATION_HEADER: &str = "x-azure-functions-invocationid";

/// The function a path belongs to, as `functions/*/function.json` routes it (standalone too, so logs read the
/// same both ways).
fn function_of(path: &str) -> &'static str {
    let rest = path.strip_prefix("/api/").unwrap_or(path.trim_start_matches('/'));
    match rest.split('/').next().unwrap_or_default() {
        "commands" => "command",
        "negotiate" => "negotiate",
        "projection" => "projection",
        "relay" => "relay",
        "inventory" | "activity" | "locations" | "health" | "openapi.json" => "query",
        _ => "dashboard",
    }
}

/// Axum middleware: runs the request in its span (in the caller's trace when it sent `traceparent`, with the
/// function's name and the host's invocation id), then logs it at the level its status calls for.
pub async fn log(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let function = function_of(&path);
    let invocation = request.headers().get(INVOCATION_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let span = tracing::info_span!(
        "request",
        otel.name = %format_args!("{method} {function}"),
        otel.kind = "server",
        function,
        invocation_id = invocation.as_deref(),
        trace_id = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
    );
    trace_context::adopt(&span, Some(trace_context::from_headers(request.headers())));
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let micros = started.elapsed().as_micros() as u64;
    span.record("http.response.status_code", status);
    let _inside = span.enter();
    match status {
        500.. => tracing::warn!(%method, path, status, micros, "served"),
        400..=499 => tracing::info!(%method, path, status, micros, "served"),
        _ => tracing::debug!(%method, path, status, micros, "served"),
    }
    response
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::routing::get;
    use http::StatusCode;
    use tower::ServiceExt;

    use super::*;

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn successes_stay_quiet_at_info_while_refusals_and_failures_are_logged_without_the_query() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);
        let app = Router::new()
            .route("/ok", get(|| async { "fine" }))
            .route("/refused", get(|| async { StatusCode::CONFLICT }))
            .route("/broken", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
            .layer(axum::middleware::from_fn(log));
        for uri in ["/ok", "/refused?code=secret-key", "/broken"] {
            let request = Request::builder().uri(uri).body(axum::body::Body::empty()).unwrap();
            app.clone().oneshot(request).await.unwrap();
        }
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(!text.contains("/ok"), "a success is a debug line: {text}");
        assert!(text.contains("INFO") && text.contains("path=\"/refused\"") && text.contains("status=409"), "{text}");
        assert!(text.contains("WARN") && text.contains("path=\"/broken\"") && text.contains("status=503"), "{text}");
        assert!(!text.contains("secret-key"), "never the query string: {text}");
    }
}
