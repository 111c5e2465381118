//! The HTTP front door: requests under the route prefix are matched to an HTTP function by its route and
//! methods, checked against its `authLevel` with the presented key, and forwarded unchanged to a handler
//! instance (`enableForwardingHttpRequest`: same method, original path and query, every header plus the
//! host's own), whose answer goes back as it is, streamed. No route: 404; a missing or wrong key: 401 with an
//! empty body (the host's `UnauthorizedResult`). Source: `docs/protocol/functions-custom-handler.md` §3, §7.
//!
//! Beyond the host: `x-funchost-instance: <n>` pins a request to one instance, and every answer says which
//! instance served it in the same header, so tests can ask each instance in turn.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use http::{HeaderName, StatusCode};

use crate::app::{App, AuthLevel, Trigger};
use crate::instances::Instances;
use crate::invoke::HOST_VERSION;
use crate::keys::{self, Keys};

/// The pinning header (a stand-in extension, never sent by the real host).
pub const INSTANCE_HEADER: &str = "x-funchost-instance";
/// The largest request body the Functions front end takes (100 MB).
const MAX_REQUEST: usize = 100 * 1024 * 1024;

/// What the front door needs.
pub struct FrontDoor {
    pub app: App,
    pub keys: Keys,
    pub instances: Arc<Instances>,
    pub client: reqwest::Client,
}

/// Hop-by-hop headers are the connection's, not the message's (RFC 9110 §7.6.1).
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection" | "keep-alive" | "proxy-connection" | "transfer-encoding" | "upgrade" | "te" | "trailer" | "host"
    )
}

/// The HTTP function for this method and path below the prefix, if any.
fn route<'a>(app: &'a App, method: &http::Method, path: &str) -> Option<(&'a str, AuthLevel)> {
    let mut candidates: Vec<_> = app
        .functions
        .iter()
        .filter_map(|f| match &f.trigger {
            Trigger::Http { route, methods, auth } => {
                let method_ok = methods.is_empty() || methods.iter().any(|m| m == method.as_str());
                (method_ok && route.matches(path).is_some()).then_some((route.precedence(), f.name.as_str(), *auth))
            }
            _ => None,
        })
        .collect();
    candidates.sort_by(|a, b| a.0.cmp(&b.0));
    candidates.first().map(|(_, name, auth)| (*name, *auth))
}

/// Every request the admin and Event Grid routes did not take.
pub async fn handle(State(door): State<Arc<FrontDoor>>, request: Request) -> Response {
    let prefix = format!("/{}", door.app.route_prefix);
    let path = request.uri().path();
    let below = match path.strip_prefix(&prefix) {
        Some("") => "",
        Some(rest) if rest.starts_with('/') => &rest[1..],
        _ if path == "/" && request.method() == http::Method::GET => {
            return (StatusCode::OK, "Your Functions 4.0 app (funchost) is up and running").into_response();
        }
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let Some((function, auth)) = route(&door.app, request.method(), below.trim_end_matches('/')) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let presented = keys::presented(request.headers(), request.uri().query());
    if !door.keys.allows(function, auth, presented.as_deref()) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let pinned = request.headers().get(INSTANCE_HEADER).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let Some((instance, port)) = door.instances.pick(pinned).await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    forward(&door.client, instance, port, request).await
}

/// Sends the request to the instance unchanged and streams its answer back.
async fn forward(client: &reqwest::Client, instance: usize, port: u16, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    // The host sends a body only when the request had one (with its Content-Length), so it is read whole.
    let Ok(body) = axum::body::to_bytes(body, MAX_REQUEST).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let mut outgoing = client.request(parts.method.clone(), format!("http://127.0.0.1:{port}{path}"));
    for (name, value) in &parts.headers {
        if !hop_by_hop(name) && name != http::header::CONTENT_LENGTH && name.as_str() != INSTANCE_HEADER {
            outgoing = outgoing.header(name, value);
        }
    }
    outgoing = outgoing
        .header("x-azure-functions-hostversion", HOST_VERSION)
        .header("x-azure-functions-invocationid", uuid::Uuid::new_v4().to_string());
    if !body.is_empty() {
        outgoing = outgoing.body(body);
    }
    let answer = match outgoing.send().await {
        Ok(answer) => answer,
        Err(error) => {
            // The worker died under the invocation: the host fails it with a 500.
            tracing::warn!(instance, error = %error.without_url(), "forwarding failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let mut response = Response::new(Body::empty());
    *response.status_mut() = answer.status();
    for (name, value) in answer.headers() {
        if !hop_by_hop(name) {
            response.headers_mut().append(name, value.clone());
        }
    }
    response.headers_mut().insert(INSTANCE_HEADER, instance.into());
    *response.body_mut() = Body::from_stream(answer.bytes_stream().map_err(std::io::Error::other));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_routes_pick_the_functions_the_host_would() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let app = App::read(&root).unwrap();
        let get = http::Method::GET;
        let post = http::Method::POST;
        assert_eq!(route(&app, &post, "commands").map(|r| r.0), Some("command"));
        assert_eq!(route(&app, &post, "commands/batch").map(|r| r.0), Some("command"));
        assert_eq!(route(&app, &get, "commands"), None, "wrong method: no route");
        assert_eq!(route(&app, &get, "inventory/store-1/apple-pie").map(|r| r.0), Some("query"));
        assert_eq!(route(&app, &get, "dashboard").map(|r| r.0), Some("query"));
        assert_eq!(route(&app, &get, "nothing-here"), None);
        assert_eq!(route(&app, &post, "projection"), None, "non-HTTP functions have no route");
    }
}
