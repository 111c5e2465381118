//! Puts every function's routes together, with the OpenAPI document and this process's hub: the same router serves
//! under the Functions host and standalone.

use std::sync::Arc;

use axum::Router;
use axum::middleware;
use axum::routing::get;

use super::openapi;
use crate::config::Access;
use crate::functions::{App, command, dashboard, health, negotiate, projection, query, relay, verify};
use crate::host::http_envelope;
use crate::http::auth::{self, KeyRing};
use crate::http::caller;
use crate::http::{Problem, request_log};

/// The whole HTTP surface of the handler. With `Access::Keys`, everything but the dashboard and health needs a
/// function key, whose name is then the caller; behind Easy Auth the signed-in principal is (`http::caller`).
pub fn router(app: Arc<App>, access: Access) -> Router {
    let under_host = matches!(access, Access::Host { .. });
    let guarded = Router::new()
        .merge(command::router())
        .merge(query::router())
        // Behind the key, as in Azure, where it is a route of the `query` function.
        .route("/api/openapi.json", get(openapi::openapi_json))
        .merge(negotiate::router())
        .merge(projection::router())
        .merge(relay::router())
        .merge(verify::router())
        .method_not_allowed_fallback(method_not_allowed);
    let guarded = match access {
        Access::Open | Access::Host { easy_auth: false } => guarded,
        Access::Host { easy_auth: true } => guarded.layer(middleware::from_fn(caller::from_easy_auth)),
        // Layered after the 405 answer is in place, so it guards that too: the key is checked before anything
        // else about the request, a wrong method included, and a caller without a key learns nothing of the routes.
        Access::Keys(keys) => {
            guarded.layer(middleware::from_fn_with_state(Arc::new(KeyRing::new(&keys)), auth::require_key))
        }
    };
    // This process's own hub: its transports are authorised by the connection token negotiate handed out.
    let hub = app.hub.as_ref().map(|hub| hub.routes.clone()).unwrap_or_default();
    let api = Router::new()
        .merge(dashboard::router())
        .merge(health::router())
        .merge(guarded)
        .with_state(app)
        .merge(hub)
        .fallback(|| async { Problem::not_found("no such path") })
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(request_log::log));
    match under_host {
        // A host that neither proxies nor forwards posts each HTTP request to `/<function>` in an envelope;
        // only the host may (standalone these routes would pass by the keys).
        true => http_envelope::routes(api.clone()).merge(api),
        false => api,
    }
}

async fn method_not_allowed() -> Problem {
    Problem::method_not_allowed()
}
