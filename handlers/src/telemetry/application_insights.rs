//! Spans and metrics to Application Insights (`APPLICATIONINSIGHTS_CONNECTION_STRING`), in its own envelope
//! format, by the `opentelemetry-application-insights` exporter: server spans become requests, client spans
//! dependencies, span events (the log lines inside a request) traces, all under the W3C trace id as the
//! operation id; metrics become `customMetrics`.
//!
//! With `APPLICATIONINSIGHTS_AUTHENTICATION_STRING=Authorization=AAD[;ClientId=<id>]` (what the bicep sets, the
//! resource having local auth disabled), every upload carries an Entra token for Azure Monitor from the app's
//! managed identity, sent to `/v2.1/track`, the ingestion API for Entra-authenticated telemetry
//! (learn.microsoft.com/azure/azure-monitor/app/azure-ad-authentication). The exporter takes any
//! `opentelemetry_http::HttpClient`, so the token is added by the client below rather than by a fork.

use std::sync::Arc;

use bytes::Bytes;
use opentelemetry_http::{HttpClient, HttpError};

/// Where Application Insights telemetry goes and how uploads authenticate.
#[derive(Clone)]
pub struct Destination {
    pub connection_string: String,
    pub entra: Option<Entra>,
}

/// Entra authentication for uploads: the credential and the runtime that drives its token requests (the
/// SDK's exporters run on threads of their own, outside any runtime).
#[derive(Clone)]
pub struct Entra {
    pub credential: Arc<dyn azure_core::credentials::TokenCredential>,
    pub runtime: tokio::runtime::Handle,
}

/// The scope of Azure Monitor's ingestion (the double slash is the documented form).
const SCOPE: &str = "https://monitor.azure.com//.default";

/// What `APPLICATIONINSIGHTS_AUTHENTICATION_STRING` asks for: `Some(client id or none)` for Entra.
pub fn entra_requested(authentication: &str) -> Option<Option<String>> {
    let mut aad = false;
    let mut client_id = None;
    for part in authentication.split(';') {
        match part.split_once('=').map(|(k, v)| (k.trim(), v.trim())) {
            Some((key, value)) if key.eq_ignore_ascii_case("Authorization") => aad = value.eq_ignore_ascii_case("AAD"),
            Some((key, value)) if key.eq_ignore_ascii_case("ClientId") && !value.is_empty() => {
                client_id = Some(value.to_owned())
            }
            _ => {}
        }
    }
    aad.then_some(client_id)
}

/// The exporter's HTTP client: a blocking reqwest client (the exporters run on the SDK's own threads), plus
/// the bearer token when Entra is on.
#[derive(Clone)]
pub struct Ingestion {
    client: reqwest::blocking::Client,
    entra: Option<Entra>,
}

impl std::fmt::Debug for Ingestion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingestion").field("entra", &self.entra.is_some()).finish()
    }
}

impl Ingestion {
    pub fn new(entra: Option<Entra>) -> Result<Self, reqwest::Error> {
        // A blocking client may not be built on a runtime thread: build it on a thread of its own.
        let client = std::thread::spawn(|| {
            reqwest::blocking::Client::builder().timeout(std::time::Duration::from_secs(30)).build()
        })
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        Ok(Self { client, entra })
    }
}

#[async_trait::async_trait]
impl HttpClient for Ingestion {
    async fn send_bytes(&self, mut request: http::Request<Bytes>) -> Result<http::Response<Bytes>, HttpError> {
        if let Some(entra) = &self.entra {
            let token = entra.runtime.block_on(entra.credential.get_token(&[SCOPE], None))?;
            let bearer = http::HeaderValue::try_from(format!("Bearer {}", token.token.secret()))?;
            request.headers_mut().insert(http::header::AUTHORIZATION, bearer);
            let uri = request.uri().to_string();
            if let Some(base) = uri.strip_suffix("/v2/track") {
                *request.uri_mut() = format!("{base}/v2.1/track").parse()?;
            }
        }
        self.client.send_bytes(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authentication_string_asks_for_entra_with_or_without_a_client_id() {
        assert_eq!(entra_requested("Authorization=AAD"), Some(None));
        assert_eq!(entra_requested("ClientId=abc-123;Authorization=AAD"), Some(Some("abc-123".into())));
        assert_eq!(entra_requested("Authorization=aad; ClientId = x "), Some(Some("x".into())));
        assert_eq!(entra_requested(""), None);
        assert_eq!(entra_requested("ClientId=abc"), None, "a client id alone is not Entra");
    }
}
