//! Function keys for the standalone server, checked the way the Functions host checks them (under the host
//! this layer is not installed: the host has checked the key before it forwards a request).
//!
//! The key is read from the `x-functions-key` header, else from the `code` query parameter; a header, when
//! present, decides alone. Keys are compared as SHA-256 digests in constant time against every configured key,
//! so neither the length nor the content of a key leaks through timing. A key is never logged.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::Problem;
use crate::config::ApiKey;
use crate::domain::Caller;

/// The header the Functions host reads a function key from.
pub const KEY_HEADER: &str = "x-functions-key";
/// The query parameter the Functions host reads a function key from.
pub const KEY_PARAMETER: &str = "code";

/// The configured keys, kept only as digests.
pub struct KeyRing {
    keys: Vec<(String, [u8; 32])>,
}

impl KeyRing {
    pub fn new(keys: &[ApiKey]) -> Self {
        Self { keys: keys.iter().map(|k| (k.name.clone(), digest(k.key.expose()))).collect() }
    }

    /// The name of the key that matches `presented`, if any. Compares against every key, whatever matched.
    pub fn caller(&self, presented: &str) -> Option<&str> {
        let presented = digest(presented);
        let mut caller = None;
        for (name, key) in &self.keys {
            if bool::from(key.ct_eq(&presented)) {
                caller = Some(name.as_str());
            }
        }
        caller
    }
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// Middleware (`from_fn_with_state`): lets the request through only with a valid key, else answers 401
/// `unauthorized`.
/// The key's name is left in the request's extensions as its `Caller` (`http::caller`).
pub async fn require_key(State(ring): State<Arc<KeyRing>>, mut request: Request, next: Next) -> Response {
    let caller = presented_key(&request).and_then(|key| ring.caller(&key).map(str::to_owned));
    match caller {
        Some(caller) => {
            tracing::debug!(%caller, "function key accepted");
            if let Some(caller) = Caller::parse(&caller) {
                request.extensions_mut().insert(caller);
            }
            next.run(request).await
        }
        None => Problem::unauthorized().into_response(),
    }
}

/// The header when present (even if unreadable: it is not then overridden by the query), else `?code=`.
fn presented_key(request: &Request) -> Option<String> {
    if let Some(value) = request.headers().get(KEY_HEADER) {
        return value.to_str().ok().map(str::to_owned);
    }
    let query = request.uri().query()?;
    form_urlencoded::parse(query.as_bytes()).find(|(name, _)| name == KEY_PARAMETER).map(|(_, key)| key.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn ring() -> KeyRing {
        let key = |name: &str, key: &str| ApiKey { name: name.into(), key: Secret::new(key) };
        KeyRing::new(&[key("till-1", "first-key-0123456789"), key("manager", "second-key-0123456789")])
    }

    fn request(uri: &str, header: Option<&str>) -> Request {
        let mut builder = http::Request::builder().uri(uri);
        if let Some(key) = header {
            builder = builder.header(KEY_HEADER, key);
        }
        builder.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn each_key_names_its_caller_and_near_misses_name_nobody() {
        let ring = ring();
        assert_eq!(ring.caller("first-key-0123456789"), Some("till-1"));
        assert_eq!(ring.caller("second-key-0123456789"), Some("manager"));
        for wrong in ["", "first-key-012345678", "first-key-0123456789 ", "FIRST-KEY-0123456789"] {
            assert_eq!(ring.caller(wrong), None, "{wrong:?}");
        }
    }

    #[test]
    fn the_header_wins_over_the_query() {
        assert_eq!(presented_key(&request("/api/inventory?code=q", Some("h"))).as_deref(), Some("h"));
        assert_eq!(presented_key(&request("/api/inventory?limit=1&code=a%2Bb%3D%3D", None)).as_deref(), Some("a+b=="));
        assert_eq!(presented_key(&request("/api/inventory?limit=1", None)), None);
    }
}
