//! Who sent a request, as far as the server can vouch for it (`docs/protocol/caller-identity.md`):
//! - standalone with `PIESHOP_API_KEYS`: the name of the key that opened the route (`auth::require_key` finds it);
//! - under the Functions host: the host checks function keys but, in the proxied and forwarded modes the
//!   deployed app uses, passes on nothing about which key matched; so the caller is the principal App Service
//!   authentication (Easy Auth) signed in, taken from the headers the platform injects, and only when the
//!   platform says it is on (`WEBSITE_AUTH_ENABLED`): without it nothing strips those headers, and any client
//!   could name itself.
//!
//! Each source leaves a `Caller` in the request's extensions; `VerifiedCaller` reads it.

use std::convert::Infallible;

use axum::extract::{FromRequestParts, Request};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use http::HeaderMap;
use http::request::Parts;

use crate::domain::Caller;

/// The signed-in principal's name, set by Easy Auth (`X-MS-CLIENT-PRINCIPAL-NAME`).
pub const PRINCIPAL_NAME_HEADER: &str = "x-ms-client-principal-name";
/// Every claim of the principal, as base64 JSON `{auth_typ, claims: [{typ, val}], name_typ, role_typ}`.
pub const PRINCIPAL_HEADER: &str = "x-ms-client-principal";

/// The caller the transport verified for this request, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifiedCaller(pub Option<Caller>);

impl<S: Send + Sync> FromRequestParts<S> for VerifiedCaller {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.extensions.get::<Caller>().cloned()))
    }
}

/// Middleware for a handler behind Easy Auth: records the principal the platform signed in as the caller.
pub async fn from_easy_auth(mut request: Request, next: Next) -> Response {
    if let Some(caller) = easy_auth_principal(request.headers()) {
        request.extensions_mut().insert(caller);
    }
    next.run(request).await
}

/// The principal's name: `X-MS-CLIENT-PRINCIPAL-NAME`, else the claim `X-MS-CLIENT-PRINCIPAL` names by its
/// `name_typ` (the form the Functions host itself decodes).
pub fn easy_auth_principal(headers: &HeaderMap) -> Option<Caller> {
    if let Some(name) = headers.get(PRINCIPAL_NAME_HEADER) {
        return name.to_str().ok().and_then(Caller::parse);
    }
    let encoded = headers.get(PRINCIPAL_HEADER)?.to_str().ok()?;
    let json = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let principal: serde_json::Value = serde_json::from_slice(&json).ok()?;
    let name_type = principal.get("name_typ")?.as_str()?;
    let claims = principal.get("claims")?.as_array()?;
    let name = claims.iter().find(|claim| claim.get("typ").and_then(|t| t.as_str()) == Some(name_type))?;
    name.get("val")?.as_str().and_then(Caller::parse)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs.iter().map(|(name, value)| (http::HeaderName::from_static(name), value.parse().unwrap())).collect()
    }

    #[test]
    fn the_principal_name_header_names_the_caller() {
        let found = easy_auth_principal(&headers(&[(PRINCIPAL_NAME_HEADER, "dana@pieshop.example")]));
        assert_eq!(found, Caller::parse("dana@pieshop.example"));
        assert_eq!(easy_auth_principal(&headers(&[(PRINCIPAL_NAME_HEADER, "")])), None);
        assert_eq!(easy_auth_principal(&HeaderMap::new()), None);
    }

    #[test]
    fn without_the_name_header_the_principal_claims_name_the_caller() {
        let principal = serde_json::json!({
            "auth_typ": "aad", "name_typ": "name", "role_typ": "roles",
            "claims": [{"typ": "roles", "val": "manager"}, {"typ": "name", "val": "Dana Okafor"}],
        });
        let encoded = base64::engine::general_purpose::STANDARD.encode(principal.to_string());
        assert_eq!(easy_auth_principal(&headers(&[(PRINCIPAL_HEADER, &encoded)])), Caller::parse("Dana Okafor"));
        assert_eq!(easy_auth_principal(&headers(&[(PRINCIPAL_HEADER, "not base64!")])), None);
    }
}
