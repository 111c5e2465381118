//! HTTP functions in the host's default protocol, for a host.json that neither proxies nor forwards
//! (`docs/protocol/functions-custom-handler.md` §2): the host POSTs `{"Data": {"req": {Url, Method, Query,
//! Headers, Params, Identities, Body}}, "Metadata": …}` to `/<FunctionName>` and expects `{"Outputs": {"res":
//! {statusCode, headers, body}}}` back. The request inside is served by the same router as every other mode.
//!
//! Only this mode tells the handler which function key opened the request: the host's key identity
//! (`AuthenticationType` `WebJobsAuthLevel`) carries the key's name as the claim
//! `http://schemas.microsoft.com/2017/07/functions/claims/keyid` (`docs/protocol/caller-identity.md`), and
//! that name becomes the command's `caller`. The key's value is in `Headers`/`Query` as the client sent it,
//! and is never read here.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{HeaderName, HeaderValue, Method, StatusCode};
use serde_json::{Map, Value, json};
use tower::ServiceExt;

use super::envelope::Invocation;
use crate::domain::Caller;
use crate::http::Problem;

/// The trigger binding's name in every HTTP function.json of the app.
const BINDING: &str = "req";
/// The output binding's name.
const OUTPUT: &str = "res";
/// The host's identity for a request a function key authorised, and its claim naming the key.
const KEY_IDENTITY: &str = "WebJobsAuthLevel";
const KEY_NAME_CLAIM: &str = "http://schemas.microsoft.com/2017/07/functions/claims/keyid";
/// Most bytes of an answer passed back through an envelope (the biggest JSON answer is a 500-item page).
const MAX_ANSWER: usize = 64 * 1024 * 1024;

/// `POST /<function>` for each HTTP function, serving the request inside through `api`.
pub fn routes(api: Router) -> Router {
    Router::new()
        .route("/command", post(invoke))
        .route("/query", post(invoke))
        .route("/negotiate", post(invoke))
        .with_state(api)
}

async fn invoke(State(api): State<Router>, body: axum::body::Bytes) -> Response {
    let request = match Invocation::parse(&body).map_err(|e| e.to_string()).and_then(|inv| request(&inv)) {
        Ok(request) => request,
        Err(reason) => {
            // Not the host's shape: fail the invocation (the host answers its caller 500).
            tracing::warn!(%reason, "HTTP invocation envelope refused");
            return (StatusCode::BAD_REQUEST, reason).into_response();
        }
    };
    let answer = match api.oneshot(request).await {
        Ok(answer) => answer,
        Err(never) => match never {},
    };
    envelope(answer).await
}

/// The HTTP request inside the envelope, with the key's name, if the host gave one, as its `Caller`.
pub fn request(invocation: &Invocation) -> Result<http::Request<Body>, String> {
    let req = invocation.data.get(BINDING).and_then(Value::as_object).ok_or("no Data.req object")?;
    let text = |name: &str| req.get(name).and_then(Value::as_str);
    let method = Method::from_bytes(text("Method").ok_or("no Method")?.as_bytes()).map_err(|e| e.to_string())?;
    let url: http::Uri = text("Url").ok_or("no Url")?.parse().map_err(|e: http::uri::InvalidUri| e.to_string())?;
    let path = url.path_and_query().map(|p| p.as_str()).unwrap_or("/").to_owned();
    let mut builder = http::Request::builder().method(method).uri(path);
    for (name, values) in req.get("Headers").and_then(Value::as_object).into_iter().flatten() {
        let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else { continue };
        for value in values.as_array().into_iter().flatten().filter_map(Value::as_str) {
            if let Ok(value) = HeaderValue::from_str(value) {
                builder = builder.header(name.clone(), value);
            }
        }
    }
    if let Some(caller) = key_name(req) {
        builder = builder.extension(caller);
    }
    let body = text("Body").map(|b| Body::from(b.to_owned())).unwrap_or_else(Body::empty);
    builder.body(body).map_err(|e| e.to_string())
}

/// The name of the function key the host matched: the `keyid` claim of its `WebJobsAuthLevel` identity.
fn key_name(req: &Map<String, Value>) -> Option<Caller> {
    let identities = req.get("Identities")?.as_array()?;
    let key = identities.iter().find(|i| i.get("AuthenticationType").and_then(Value::as_str) == Some(KEY_IDENTITY))?;
    let claims = key.get("Claims")?.as_array()?;
    let name = claims.iter().find(|c| c.get("Type").and_then(Value::as_str) == Some(KEY_NAME_CLAIM))?;
    name.get("Value")?.as_str().and_then(Caller::parse)
}

/// The answer as the `res` output binding: `statusCode`, string `headers`, the body as text.
async fn envelope(answer: Response) -> Response {
    let (parts, body) = answer.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_ANSWER).await else {
        return Problem::unavailable(&"the answer could not be read whole").into_response();
    };
    let mut headers = Map::new();
    for name in parts.headers.keys() {
        let values: Vec<&str> = parts.headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
        headers.insert(name.as_str().to_owned(), Value::String(values.join(", ")));
    }
    let res = json!({"statusCode": parts.status.as_u16(), "headers": headers,
                     "body": String::from_utf8_lossy(&bytes)});
    let outputs = Map::from_iter([(OUTPUT.to_owned(), res)]);
    super::envelope::InvocationResult { outputs, logs: Vec::new() }.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invocation(identities: Value) -> Invocation {
        let body = json!({"Data": {"req": {"Url": "http://localhost:7071/api/activity?limit=1", "Method": "GET",
            "Headers": {"Accept": ["application/json"], "x-functions-key": ["secret-value"]},
            "Identities": identities}}, "Metadata": {}});
        Invocation::parse(body.to_string().as_bytes()).unwrap()
    }

    fn key_identity(claims: Value) -> Value {
        json!([{"AuthenticationType": "WebJobsAuthLevel", "IsAuthenticated": true, "Claims": claims}])
    }

    #[test]
    fn the_key_identitys_keyid_claim_names_the_caller() {
        let claims = json!([
            {"Type": "http://schemas.microsoft.com/2017/07/functions/claims/authlevel", "Value": "Function"},
            {"Type": KEY_NAME_CLAIM, "Value": "till-1"},
        ]);
        let request = request(&invocation(key_identity(claims))).unwrap();
        assert_eq!(request.extensions().get::<Caller>(), Caller::parse("till-1").as_ref());
        assert_eq!(request.uri(), "/api/activity?limit=1");
        assert_eq!(request.headers()["accept"], "application/json");
    }

    #[test]
    fn without_a_key_identity_or_its_claim_there_is_no_caller() {
        let anonymous = json!([{"AuthenticationType": null, "IsAuthenticated": false, "Claims": []}]);
        // `func start` without --enableAuth: an Admin identity with no key behind it.
        let local = key_identity(json!([
            {"Type": "http://schemas.microsoft.com/2017/07/functions/claims/authlevel", "Value": "Admin"}
        ]));
        let other = json!([{"AuthenticationType": "aad", "Claims": [{"Type": KEY_NAME_CLAIM, "Value": "x"}]}]);
        for identities in [anonymous, local, other, Value::Null] {
            let request = request(&invocation(identities.clone())).unwrap();
            assert_eq!(request.extensions().get::<Caller>(), None, "{identities}");
        }
    }

    #[test]
    fn the_fixtures_request_is_served_as_the_request_inside() {
        let fixture = include_str!("../../tests/fixtures/host/a-http-default-request.json");
        let request = request(&Invocation::parse(fixture.as_bytes()).unwrap()).unwrap();
        assert_eq!(
            (request.method(), request.uri().to_string()),
            (&Method::POST, "/api/commands/order-42?dryRun=true".into())
        );
        assert_eq!(request.extensions().get::<Caller>(), None, "the fixture's identity is anonymous");
    }
}
