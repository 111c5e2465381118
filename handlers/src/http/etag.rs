//! ETags for query answers: the answer's own tag (`application::queries::tag`, a hash of the answer itself), so two
//! equal answers always share an ETag and `If-None-Match` gets a 304 exactly when nothing the client would see has
//! changed.

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::application::queries::tag;

/// Whether `If-None-Match` names this ETag (or `*`). Weak and strong forms compare equal, as RFC 9110 asks
/// for `If-None-Match`.
pub fn matches(headers: &HeaderMap, etag: &str) -> bool {
    headers.get_all(header::IF_NONE_MATCH).iter().filter_map(|v| v.to_str().ok()).any(|list| {
        list.split(',').map(str::trim).any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == etag)
    })
}

/// Strips quotes and a weak prefix from a client-supplied ETag (as in `waitForChange=`).
pub fn normalize(given: &str) -> String {
    let bare = given.trim().trim_start_matches("W/").trim_matches('"');
    format!("\"{bare}\"")
}

/// A JSON answer with its ETag, or 304 when the client already has it.
pub fn respond(request_headers: &HeaderMap, body: Bytes) -> Response {
    let etag = tag(&body);
    if matches(request_headers, &etag) {
        return not_modified(&etag);
    }
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    set_etag(headers, &etag);
    response
}

/// 304 with the ETag and no body.
pub fn not_modified(etag: &str) -> Response {
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    set_etag(response.headers_mut(), etag);
    response
}

fn set_etag(headers: &mut HeaderMap, etag: &str) {
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_accepts_lists_weak_forms_and_star() {
        let etag = tag(b"{}");
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_str(&format!("\"x\", W/{etag}")).unwrap());
        assert!(matches(&headers, &etag));
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
        assert!(!matches(&headers, &etag));
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(matches(&headers, &etag));
    }
}
