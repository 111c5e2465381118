//! The HTTP front door: requests under the route prefix are matched to an HTTP function by its route and
//! methods, checked against its `authLevel` with the presented key, and passed unchanged to a handler instance
//! (same method, original path and query, every header plus the host's own), whose answer goes back as it is.
//! As `HttpMode` says: proxied (`enableProxyingHttpRequest`, a current host: request and answer streamed) or
//! forwarded (`enableForwardingHttpRequest`, a host without proxying: the answer read whole first). No route:
//! 404; a missing or wrong key: 401 with an empty body (the host's `UnauthorizedResult`). Source:
//! `docs/protocol/functions-custom-handler.md` §3, §7.
//!
//! Beyond the host: `x-funchost-instance: <n>` pins a request to one instance, and every answer says which
//! instance served it in the same header (and `x-funchost-http-mode` how it got there), so tests can ask each
//! instance in turn.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use http::{HeaderName, StatusCode};

use crate::app::{App, AuthLevel, HttpMode, Trigger};
use crate::easy_auth::EasyAuth;
use crate::http_envelope::{self, HttpInvocation};
use crate::instances::Instances;
use crate::invoke::HOST_VERSION;
use crate::keys::{self, Keys};

/// The pinning header (a stand-in extension, never sent by the real host).
pub const INSTANCE_HEADER: &str = "x-funchost-instance";
/// Says on every answer how the request reached the handler (`proxy` or `forward`; a stand-in extension).
pub const MODE_HEADER: &str = "x-funchost-http-mode";
/// The largest request body the Functions front end takes (100 MB).
const MAX_REQUEST: usize = 100 * 1024 * 1024;

/// What the front door needs.
pub struct FrontDoor {
    pub app: App,
    pub keys: Keys,
    pub instances: Arc<Instances>,
    pub client: reqwest::Client,
    pub mode: HttpMode,
    /// App Service authentication in front of the host (`easy_auth`).
    pub easy_auth: EasyAuth,
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

/// The route values of `function`'s template for `path` (the envelope's `Params`).
fn route_values(app: &App, function: &str, path: &str) -> std::collections::BTreeMap<String, String> {
    let template = app.functions.iter().find(|f| f.name == function).and_then(|f| match &f.trigger {
        Trigger::Http { route, .. } => Some(route),
        _ => None,
    });
    template.and_then(|t| t.matches(path)).unwrap_or_default()
}

/// Every request the admin and Event Grid routes did not take. Easy Auth, when on, sees it first (the platform
/// runs before the host); the key the host checks and passes on as it came, and nothing about which key matched
/// (`docs/protocol/caller-identity.md`).
pub async fn handle(State(door): State<Arc<FrontDoor>>, mut request: Request) -> Response {
    door.easy_auth.apply(request.headers_mut());
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
    let below = below.trim_end_matches('/').to_owned();
    let Some((function, auth)) = route(&door.app, request.method(), &below) else {
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
    let mut response = match door.mode {
        HttpMode::Envelope => {
            let (mut parts, body) = request.into_parts();
            parts.headers.remove(INSTANCE_HEADER);
            let Ok(body) = axum::body::to_bytes(body, MAX_REQUEST).await else {
                return StatusCode::PAYLOAD_TOO_LARGE.into_response();
            };
            let grant = presented.as_deref().and_then(|key| door.keys.grant(function, key));
            let params = route_values(&door.app, function, &below);
            let easy_auth = door.easy_auth == EasyAuth::On;
            let invocation = HttpInvocation { function, parts: &parts, body: &body, params, grant, easy_auth };
            let mut response = http_envelope::invoke(&door.client, port, &invocation).await;
            response.headers_mut().insert(INSTANCE_HEADER, instance.into());
            response
        }
        HttpMode::Proxy | HttpMode::Forward => pass(&door.client, door.mode, instance, port, request).await,
    };
    response.headers_mut().insert(MODE_HEADER, http::HeaderValue::from_static(door.mode.name()));
    response
}

/// Sends the request to the instance unchanged and its answer back: streamed both ways when proxying; when
/// forwarding, the request body read whole (sent only when there is one, with its Content-Length) and so is
/// the answer.
async fn pass(client: &reqwest::Client, mode: HttpMode, instance: usize, port: u16, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    // A proxy passes a body on as it comes, with its own Content-Length or chunked, and none when there is none.
    let has_body = parts.headers.contains_key(http::header::TRANSFER_ENCODING)
        || parts.headers.get(http::header::CONTENT_LENGTH).is_some_and(|v| v != "0");
    let body = match mode {
        HttpMode::Proxy => reqwest::Body::wrap_stream(body.into_data_stream()),
        HttpMode::Forward | HttpMode::Envelope => match axum::body::to_bytes(body, MAX_REQUEST).await {
            Ok(bytes) if bytes.is_empty() => reqwest::Body::from(Vec::new()),
            Ok(bytes) => reqwest::Body::from(bytes),
            Err(_) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
        },
    };
    let mut outgoing = client.request(parts.method.clone(), format!("http://127.0.0.1:{port}{path}"));
    for (name, value) in &parts.headers {
        // Forwarding sets its own Content-Length for the body it read; a proxy passes the caller's on.
        let own_length = mode == HttpMode::Forward && name == http::header::CONTENT_LENGTH;
        if !hop_by_hop(name) && !own_length && name.as_str() != INSTANCE_HEADER {
            outgoing = outgoing.header(name, value);
        }
    }
    outgoing = outgoing
        .header("x-azure-functions-hostversion", HOST_VERSION)
        .header("x-azure-functions-invocationid", uuid::Uuid::new_v4().to_string());
    if (mode == HttpMode::Proxy && has_body) || body.as_bytes().is_some_and(|b| !b.is_empty()) {
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
    *response.body_mut() = match mode {
        HttpMode::Proxy => Body::from_stream(answer.bytes_stream().map_err(std::io::Error::other)),
        HttpMode::Forward | HttpMode::Envelope => match answer.bytes().await {
            Ok(bytes) => Body::from(bytes),
            // The worker died while answering: the host fails the invocation.
            Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
    };
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
