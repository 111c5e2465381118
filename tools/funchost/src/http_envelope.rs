//! An HTTP function in the host's default protocol (host.json neither proxies nor forwards): the request goes
//! to the handler as `Data.req` of a `{Data, Metadata}` envelope POSTed to `/<FunctionName>`, and the answer
//! comes back as the `res` output binding. Sources (`docs/protocol/functions-custom-handler.md` §2,
//! `docs/protocol/caller-identity.md`): `Data.req` as `HttpRequestExtensions.GetRequestAsJObject` builds it
//! (`Url`, `Method`, `Query`, `Headers`, `Params`, `Identities`, `Body`); `Identities` as
//! `AuthenticationLevelHandler` makes them (the Easy Auth identity first when authentication is on, then the
//! key's `WebJobsAuthLevel` identity with its `authlevel`, `invoke` and `keyid` claims), serialized as Newtonsoft
//! writes a `ClaimsIdentity`; `Metadata` as the HTTP trigger's binding data; the answer's `statusCode`,
//! `headers` and `body` as `HttpScriptInvocationResultExtensions` reads them.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use http::request::Parts;
use http::{HeaderName, HeaderValue, StatusCode};
use serde_json::{Map, Value, json};

use crate::app::AuthLevel;
use crate::invoke::HOST_VERSION;

const NAME_CLAIM: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name";
const ROLE_CLAIM: &str = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role";
/// The host's `functionTimeout` for this app (host.json: 5 minutes) plus the minute it adds.
const TIMEOUT: Duration = Duration::from_secs(6 * 60);

/// What the host knows about one request when it invokes the function.
pub struct HttpInvocation<'a> {
    pub function: &'a str,
    pub parts: &'a Parts,
    pub body: &'a [u8],
    /// Route values (`Params`).
    pub params: BTreeMap<String, String>,
    /// The key that matched: its name and level.
    pub grant: Option<(String, AuthLevel)>,
    /// Authentication is on in front of the host: the Easy Auth identity is built from its header.
    pub easy_auth: bool,
}

/// A claim as Newtonsoft writes `System.Security.Claims.Claim` (its `Subject` is a reference loop, left out).
fn claim(typ: &str, value: &str) -> Value {
    json!({"Issuer": "LOCAL AUTHORITY", "OriginalIssuer": "LOCAL AUTHORITY", "Properties": {}, "Type": typ,
           "Value": value, "ValueType": "http://www.w3.org/2001/XMLSchema#string"})
}

/// A `ClaimsIdentity` as Newtonsoft writes it.
fn identity(authentication: Option<&str>, claims: Vec<Value>, name_type: &str, role_type: &str) -> Value {
    let name = claims.iter().find(|c| c["Type"] == name_type).map(|c| c["Value"].clone()).unwrap_or(Value::Null);
    json!({"AuthenticationType": authentication, "IsAuthenticated": authentication.is_some(), "Actor": null,
           "BootstrapContext": null, "Claims": claims, "Label": null, "Name": name, "NameClaimType": name_type,
           "RoleClaimType": role_type})
}

/// The Easy Auth identity the host decodes from `X-MS-CLIENT-PRINCIPAL` (`GetAppServiceIdentity`).
fn easy_auth_identity(headers: &http::HeaderMap) -> Option<Value> {
    let encoded = headers.get("x-ms-client-principal")?.to_str().ok()?;
    let json = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
    let principal: Value = serde_json::from_slice(&json).ok()?;
    let claims = principal["claims"].as_array()?;
    let claims = claims.iter().filter_map(|c| Some(claim(c["typ"].as_str()?, c["val"].as_str()?))).collect();
    let text = |name: &str| principal[name].as_str().map(str::to_owned);
    Some(identity(text("auth_typ").as_deref(), claims, &text("name_typ")?, &text("role_typ")?))
}

/// `HttpContext.User.Identities` after the host's authentication: Easy Auth's (when on), then the key's; the
/// default unauthenticated identity when neither.
fn identities(invocation: &HttpInvocation) -> Vec<Value> {
    let mut identities = Vec::new();
    if invocation.easy_auth
        && let Some(identity) = easy_auth_identity(&invocation.parts.headers)
    {
        identities.push(identity);
    }
    if let Some((name, level)) = &invocation.grant {
        let level = match level {
            AuthLevel::Admin => "Admin",
            AuthLevel::Function => "Function",
            AuthLevel::Anonymous => "Anonymous",
        };
        let mut claims = vec![
            claim("http://schemas.microsoft.com/2017/07/functions/claims/authlevel", level),
            claim("http://schemas.microsoft.com/2017/07/functions/claims/invoke", "true"),
        ];
        if !name.is_empty() {
            claims.push(claim("http://schemas.microsoft.com/2017/07/functions/claims/keyid", name));
        }
        identities.push(identity(Some("WebJobsAuthLevel"), claims, NAME_CLAIM, ROLE_CLAIM));
    }
    if identities.is_empty() {
        identities.push(identity(None, Vec::new(), NAME_CLAIM, ROLE_CLAIM));
    }
    identities
}

/// `JsonConvert.SerializeObject` of a string: binding data values arrive encoded twice.
fn encoded(text: &str) -> Value {
    Value::String(Value::String(text.to_owned()).to_string())
}

/// The envelope the host POSTs for this request.
pub fn envelope(invocation: &HttpInvocation) -> Value {
    let parts = invocation.parts;
    let query_text = parts.uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes()).into_owned().collect();
    let mut query: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in &pairs {
        query.entry(name.clone()).or_default().push(value.clone());
    }
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in &parts.headers {
        headers.entry(name.as_str().to_owned()).or_default().push(value.to_str().unwrap_or_default().to_owned());
    }
    let host = headers.get("host").and_then(|h| h.first()).cloned().unwrap_or_default();
    let mut req = Map::new();
    req.insert("Url".into(), json!(format!("http://{host}{}{query_text}", parts.uri.path())));
    req.insert("Method".into(), json!(parts.method.as_str()));
    let query: Map<String, Value> = query.iter().map(|(k, v)| (k.clone(), Value::String(v.join(",")))).collect();
    req.insert("Query".into(), Value::Object(query));
    req.insert("Headers".into(), json!(headers));
    if !invocation.params.is_empty() {
        req.insert("Params".into(), json!(invocation.params));
    }
    req.insert("Identities".into(), Value::Array(identities(invocation)));
    let content_type = parts.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !invocation.body.is_empty() {
        let binary = content_type.starts_with("application/octet-stream") || content_type.starts_with("multipart/");
        let body = match binary {
            true => base64::engine::general_purpose::STANDARD.encode(invocation.body),
            false => String::from_utf8_lossy(invocation.body).into_owned(),
        };
        req.insert("Body".into(), Value::String(body));
    }
    json!({"Data": {"req": req}, "Metadata": metadata(invocation, &pairs, &headers)})
}

/// The HTTP trigger's binding data: the JSON body's top-level scalars, query values but `code`, route values
/// (each encoded twice), `Query` (last value wins, `code` included), `Headers` (values joined) and `sys`.
fn metadata(invocation: &HttpInvocation, pairs: &[(String, String)], headers: &BTreeMap<String, Vec<String>>) -> Value {
    let mut metadata = Map::new();
    if let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(invocation.body) {
        for (name, value) in body.iter().filter(|(_, v)| !v.is_array() && !v.is_null()) {
            let text = value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string());
            metadata.insert(name.clone(), encoded(&text));
        }
    }
    for (name, value) in pairs.iter().filter(|(name, _)| name != "code") {
        metadata.insert(name.clone(), encoded(value));
    }
    for (name, value) in &invocation.params {
        metadata.insert(name.clone(), encoded(value));
    }
    let last: Map<String, Value> = pairs.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    metadata.insert("Query".into(), Value::Object(last));
    let joined: Map<String, Value> = headers.iter().map(|(k, v)| (k.clone(), Value::String(v.join(",")))).collect();
    metadata.insert("Headers".into(), Value::Object(joined));
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    let sys = json!({"MethodName": invocation.function, "UtcNow": now, "RandGuid": uuid::Uuid::new_v4().to_string()});
    metadata.insert("sys".into(), sys);
    Value::Object(metadata)
}

/// Invokes the function on the instance at `port` and turns its `res` output into the caller's answer; a
/// failed invocation is the host's 500.
pub async fn invoke(client: &reqwest::Client, port: u16, invocation: &HttpInvocation<'_>) -> Response {
    let request = client
        .post(format!("http://127.0.0.1:{port}/{}", invocation.function))
        .header("x-azure-functions-hostversion", HOST_VERSION)
        .header("x-azure-functions-invocationid", uuid::Uuid::new_v4().to_string())
        .header("user-agent", format!("Azure-Functions-Host/{HOST_VERSION}"))
        .header("content-type", "application/json; charset=utf-8")
        .timeout(TIMEOUT)
        .body(envelope(invocation).to_string());
    let answer = match request.send().await {
        Ok(answer) if answer.status().is_success() => answer.json::<Value>().await.ok(),
        Ok(_) | Err(_) => None,
    };
    match answer.as_ref().and_then(Value::as_object) {
        Some(result) => respond(result.get("Outputs").and_then(|o| o.get("res"))),
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The `res` output as an HTTP answer: `statusCode` (a number or numeric string, default 200), string
/// `headers`, a string `body`; no `res` at all is 200 with `{}`.
fn respond(res: Option<&Value>) -> Response {
    let Some(res) = res else { return (StatusCode::OK, "{}").into_response() };
    let status = match &res["statusCode"] {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => Some(200),
    };
    let Some(status) = status.and_then(|s| u16::try_from(s).ok()).and_then(|s| StatusCode::from_u16(s).ok()) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let body = match &res["body"] {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    for (name, value) in res["headers"].as_object().into_iter().flatten() {
        let value = value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string());
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value)) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    fn parts(uri: &str) -> Parts {
        let request = http::Request::post(uri)
            .header("host", "localhost:7071")
            .header("content-type", "application/json")
            .header("x-functions-key", "the-key")
            .body(())
            .unwrap();
        request.into_parts().0
    }

    /// The same members in the same order as the protocol fixture, and its encodings.
    #[test]
    fn the_envelope_has_the_fixtures_shape() {
        let expected = fixture("a-http-default-request.json");
        let parts = parts("/api/commands/order-42?dryRun=true");
        let body = br#"{"type":"PlaceOrder","quantity":2}"#;
        let params = BTreeMap::from([("aggregateId".to_owned(), "order-42".to_owned())]);
        let invocation =
            HttpInvocation { function: "command", parts: &parts, body, params, grant: None, easy_auth: false };
        let envelope = envelope(&invocation);
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&envelope["Data"]["req"]), keys(&expected["Data"]["req"]));
        assert_eq!(envelope["Data"]["req"]["Url"], expected["Data"]["req"]["Url"]);
        assert_eq!(envelope["Data"]["req"]["Identities"], expected["Data"]["req"]["Identities"]);
        assert_eq!(envelope["Data"]["req"]["Body"], expected["Data"]["req"]["Body"]);
        for name in ["type", "quantity", "dryRun", "aggregateId", "Query"] {
            assert_eq!(envelope["Metadata"][name], expected["Metadata"][name], "{name}");
        }
    }

    #[test]
    fn a_key_identity_names_the_key_and_easy_auths_comes_first() {
        let mut parts = parts("/api/commands?code=q");
        let principal = json!({"auth_typ": "aad", "name_typ": NAME_CLAIM, "role_typ": ROLE_CLAIM,
                               "claims": [{"typ": NAME_CLAIM, "val": "dana"}]});
        let encoded = base64::engine::general_purpose::STANDARD.encode(principal.to_string());
        parts.headers.insert("x-ms-client-principal", encoded.parse().unwrap());
        let grant = Some(("till-1".to_owned(), AuthLevel::Function));
        let invocation = HttpInvocation {
            function: "command",
            parts: &parts,
            body: b"",
            params: BTreeMap::new(),
            grant,
            easy_auth: true,
        };
        let identities = identities(&invocation);
        assert_eq!(
            (identities[0]["AuthenticationType"].clone(), identities[0]["Name"].clone()),
            (json!("aad"), json!("dana"))
        );
        assert_eq!(identities[1]["AuthenticationType"], "WebJobsAuthLevel");
        let claims: Vec<_> = identities[1]["Claims"].as_array().unwrap().iter().map(|c| c["Value"].clone()).collect();
        assert_eq!(claims, [json!("Function"), json!("true"), json!("till-1")]);
        let off = HttpInvocation { easy_auth: false, ..invocation };
        assert_eq!(
            identities_of(&off),
            ["WebJobsAuthLevel"],
            "without Easy Auth the host builds no identity from the header"
        );
        let envelope = envelope(&off);
        assert_eq!(envelope["Metadata"]["Query"]["code"], "q", "Query keeps code, as the host's does");
        assert!(envelope["Metadata"].get("code").is_none(), "but not as a binding value of its own");
    }

    fn identities_of(invocation: &HttpInvocation) -> Vec<String> {
        identities(invocation).iter().map(|i| i["AuthenticationType"].as_str().unwrap_or_default().to_owned()).collect()
    }

    #[test]
    fn the_res_output_is_the_answer() {
        let res = json!({"statusCode": "201", "headers": {"Content-Type": "application/json"}, "body": "{\"a\":1}"});
        let response = respond(Some(&res));
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(respond(None).status(), StatusCode::OK);
        assert_eq!(respond(Some(&json!({"statusCode": "nope"}))).status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
