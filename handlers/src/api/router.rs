//! Puts every function at its path: the same router serves under the Functions host and standalone.

use std::sync::Arc;

use axum::Router;
use axum::middleware;
use axum::routing::{get, post};

use super::openapi;
use crate::adapters::signalr_hub::transport;
use crate::config::Access;
use crate::functions::{App, command, dashboard, negotiate, projection, query, relay, verify};
use crate::http::auth::{self, KeyRing};
use crate::http::{Problem, request_log};

/// The whole HTTP surface of the handler. With `Access::Keys`, everything but the dashboard and health needs a
/// function key.
pub fn router(app: Arc<App>, access: Access) -> Router {
    let guarded = Router::new()
        .route("/api/commands", post(command::post_one))
        .route("/api/commands/batch", post(command::post_batch))
        .route("/api/inventory", get(query::inventory))
        .route("/api/inventory/summary", get(query::summary))
        .route("/api/inventory/{location}/{sku}", get(query::item))
        .route("/api/activity", get(query::activity))
        // Behind the key, as in Azure, where it is a route of the `query` function.
        .route("/api/openapi.json", get(openapi::openapi_json))
        .route("/api/negotiate", post(negotiate::negotiate))
        .route("/projection", post(projection::invoke))
        .route("/relay", post(relay::invoke))
        .route("/verify", post(verify::invoke))
        .method_not_allowed_fallback(method_not_allowed);
    let guarded = match access {
        Access::Open => guarded,
        // Layered after the 405 answer is in place, so it guards that too: the key is checked before anything
        // else about the request, a wrong method included, and a caller without a key learns nothing of the routes.
        Access::Keys(keys) => {
            guarded.layer(middleware::from_fn_with_state(Arc::new(KeyRing::new(&keys)), auth::require_key))
        }
    };
    // This process's own hub: its transports are authorised by the connection token negotiate handed out.
    let hub = app.hub.clone().map(transport::routes).unwrap_or_default();
    Router::new()
        .route("/", get(dashboard::page))
        .route("/api/dashboard", get(dashboard::page))
        .route("/api/dashboard/signalr.min.js", get(dashboard::signalr))
        .route("/api/health", get(query::health))
        .merge(guarded)
        .with_state(app)
        .merge(hub)
        .fallback(|| async { Problem::not_found("no such path") })
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(request_log::log))
}

async fn method_not_allowed() -> Problem {
    Problem::method_not_allowed()
}
