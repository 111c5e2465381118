//! Live push through Azure SignalR Service in Serverless mode, with the app's managed identity (local auth is off):
//! negotiate answers the redirect form with a client token from `:generateToken`, and each message is one `:send`
//! broadcast. Both are the service's data-plane REST API with an Entra token for `https://signalr.azure.com/.default`
//! (docs/protocol/push-deadletter-auth.md A2a/A2b; role SignalR REST API Owner). Hand-written over reqwest: there
//! is no Rust SDK for the service, and this is two calls.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use azure_core::credentials::TokenCredential;
use serde::Deserialize;
use serde_json::json;

use crate::ports::push::{HUB, Negotiation, Negotiator, Push, PushError, PushMessage};

/// Has `:generateToken` (absent from 2022-06-01) and `:send`.
pub const API_VERSION: &str = "2022-11-01";
/// The scope of the Entra token the data-plane REST API takes.
pub const SCOPE: &str = "https://signalr.azure.com/.default";
/// Client tokens live this long; a client needs one only to connect (it negotiates again on reconnect).
const TOKEN_MINUTES: u32 = 60;

/// The SignalR Service of `endpoint` (`https://<name>.service.signalr.net`).
pub struct SignalRService {
    http: reqwest::Client,
    endpoint: String,
    credential: Arc<dyn TokenCredential>,
}

#[derive(Deserialize)]
struct ClientToken {
    token: String,
}

impl SignalRService {
    pub fn new(endpoint: &str, credential: Arc<dyn TokenCredential>) -> Result<Self, PushError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| PushError::Unavailable(e.into()))?;
        Ok(Self { http, endpoint: endpoint.trim_end_matches('/').to_owned(), credential })
    }

    /// POSTs `body` to the hub's REST `action` with the identity's token; the answer if it is a success.
    #[tracing::instrument(name = "SignalR post", skip_all, fields(otel.kind = "client", messaging.system = "signalr"))]
    async fn post(
        &self,
        action: &str,
        query: &str,
        body: Option<serde_json::Value>,
    ) -> Result<reqwest::Response, PushError> {
        let token = self.credential.get_token(&[SCOPE], None).await.map_err(|e| PushError::Unavailable(e.into()))?;
        let url = format!("{}/api/hubs/{HUB}/{action}?api-version={API_VERSION}{query}", self.endpoint);
        let request = self.http.post(url).bearer_auth(token.token.secret());
        let request = match body {
            Some(body) => request.json(&body),
            None => request.header(reqwest::header::CONTENT_LENGTH, "0"),
        };
        let response = request.send().await.map_err(|e| PushError::Unavailable(e.without_url().into()))?;
        if !response.status().is_success() {
            return Err(PushError::Refused(format!("SignalR Service answered {} to {action}", response.status())));
        }
        Ok(response)
    }
}

#[async_trait]
impl Push for SignalRService {
    async fn send(&self, message: &PushMessage) -> Result<(), PushError> {
        let body = json!({ "target": message.target, "arguments": [message.argument] });
        self.post(":send", "", Some(body)).await.map(|_| ())
    }
}

#[async_trait]
impl Negotiator for SignalRService {
    async fn negotiate(&self) -> Result<Negotiation, PushError> {
        let response = self.post(":generateToken", &format!("&minutesToExpire={TOKEN_MINUTES}"), None).await?;
        let ClientToken { token } =
            response.json().await.map_err(|e| PushError::Unavailable(e.without_url().into()))?;
        Ok(Negotiation::Redirect { url: format!("{}/client/?hub={HUB}", self.endpoint), access_token: token })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use axum::Router;
    use axum::extract::State;
    use axum::response::IntoResponse;
    use azure_core::credentials::{AccessToken, TokenRequestOptions};
    use bytes::Bytes;
    use http::{HeaderMap, Method, StatusCode, Uri};
    use serde_json::Value;

    use super::*;

    /// A credential that hands out a fixed token and records the scopes asked for.
    #[derive(Debug, Default)]
    struct FakeIdentity {
        scopes: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl TokenCredential for FakeIdentity {
        async fn get_token(
            &self,
            scopes: &[&str],
            _options: Option<TokenRequestOptions<'_>>,
        ) -> azure_core::Result<AccessToken> {
            self.scopes.lock().unwrap().extend(scopes.iter().map(|s| s.to_string()));
            let expires = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
            Ok(AccessToken::new("entra-token-for-the-app", expires))
        }
    }

    /// One request the stand-in received.
    #[derive(Debug, Clone)]
    struct Call {
        method: Method,
        uri: Uri,
        authorization: Option<String>,
        body: Bytes,
    }

    /// Azure SignalR Service's REST API as its reference documents it: `:send` answers 202, `:generateToken`
    /// answers `{"token"}`; every call is recorded. `status`: what `:send` answers.
    async fn stand_in(send_status: StatusCode) -> (String, Arc<Mutex<Vec<Call>>>) {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let record = |State((calls, status)): State<(Arc<Mutex<Vec<Call>>>, StatusCode)>,
                      method: Method,
                      uri: Uri,
                      headers: HeaderMap,
                      body: Bytes| async move {
            let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
            calls.lock().unwrap().push(Call { method, uri: uri.clone(), authorization, body });
            if uri.path().ends_with("/:generateToken") {
                return axum::Json(json!({"token": "client-jwt"})).into_response();
            }
            status.into_response()
        };
        let app = Router::new().fallback(record).with_state((calls.clone(), send_status));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{address}/"), calls)
    }

    fn query(uri: &Uri) -> Vec<(String, String)> {
        form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()).into_owned().collect()
    }

    #[tokio::test]
    async fn send_posts_the_message_to_the_hubs_send_with_api_version_and_an_entra_token_for_signalr() {
        let (endpoint, calls) = stand_in(StatusCode::ACCEPTED).await;
        let identity = Arc::new(FakeIdentity::default());
        let service = SignalRService::new(&endpoint, identity.clone()).unwrap();
        let message = PushMessage { target: "stockChanged", argument: json!({"sku": "apple-pie", "quantity": 7}) };
        service.send(&message).await.unwrap();
        let calls = calls.lock().unwrap().clone();
        let [call] = calls.as_slice() else { panic!("one call: {calls:?}") };
        assert_eq!(call.method, Method::POST);
        assert_eq!(call.uri.path(), "/api/hubs/inventory/:send");
        assert_eq!(query(&call.uri), [("api-version".to_owned(), "2022-11-01".to_owned())]);
        assert_eq!(call.authorization.as_deref(), Some("Bearer entra-token-for-the-app"));
        let body: Value = serde_json::from_slice(&call.body).unwrap();
        assert_eq!(body, json!({"target": "stockChanged", "arguments": [{"sku": "apple-pie", "quantity": 7}]}));
        assert_eq!(*identity.scopes.lock().unwrap(), ["https://signalr.azure.com/.default"]);
    }

    #[tokio::test]
    async fn negotiate_gets_a_client_token_and_answers_the_redirect_form() {
        let (endpoint, calls) = stand_in(StatusCode::ACCEPTED).await;
        let identity = Arc::new(FakeIdentity::default());
        let service = SignalRService::new(&endpoint, identity.clone()).unwrap();
        let negotiation = service.negotiate().await.unwrap();
        let base = endpoint.trim_end_matches('/');
        assert_eq!(
            negotiation,
            Negotiation::Redirect { url: format!("{base}/client/?hub=inventory"), access_token: "client-jwt".into() }
        );
        let calls = calls.lock().unwrap().clone();
        let [call] = calls.as_slice() else { panic!("one call: {calls:?}") };
        assert_eq!(call.method, Method::POST);
        assert_eq!(call.uri.path(), "/api/hubs/inventory/:generateToken");
        let query = query(&call.uri);
        assert!(query.contains(&("api-version".to_owned(), "2022-11-01".to_owned())), "{query:?}");
        assert!(query.contains(&("minutesToExpire".to_owned(), "60".to_owned())), "{query:?}");
        assert_eq!(call.authorization.as_deref(), Some("Bearer entra-token-for-the-app"));
        assert_eq!(*identity.scopes.lock().unwrap(), ["https://signalr.azure.com/.default"]);
    }

    /// A refused push is an error for the push port, and only a counted, lost hint for the projection: the event
    /// is applied and acknowledged.
    #[tokio::test]
    async fn a_refused_send_is_an_error_that_never_fails_the_projection_nor_loses_the_event() {
        use crate::adapters::embedded::{InProcessCache, SqliteReadModel};
        use crate::application::changes::Changes;
        use crate::application::projection::{Outcome, Projection};
        use crate::application::push_changes::PushChanges;
        use crate::contract::event_json::{self, Schema};
        use crate::domain::{ItemKey, LocationId, Sku};

        use crate::ports::ReadModel;

        let (endpoint, calls) = stand_in(StatusCode::SERVICE_UNAVAILABLE).await;
        let service = Arc::new(SignalRService::new(&endpoint, Arc::new(FakeIdentity::default())).unwrap());
        let refused = service.send(&PushMessage { target: "stockChanged", argument: json!({}) }).await;
        assert!(matches!(refused, Err(PushError::Refused(_))), "{refused:?}");

        let dir = tempfile::tempdir().unwrap();
        let read_model: Arc<dyn ReadModel> = Arc::new(SqliteReadModel::open(&dir.path().join("read.db")).unwrap());
        let hints = PushChanges::new(read_model.clone(), service);
        let projection = Projection::new(read_model.clone(), Arc::new(InProcessCache::default()), Changes::default())
            .with_push(hints.clone());
        let event = crate::domain::event::received("apple-pie", 3);
        let item = ItemKey { location: LocationId::parse("store-1").unwrap(), sku: Sku::parse("apple-pie").unwrap() };
        let outcomes = projection.handle_all(&[event_json::encode(&event, Schema::CloudEvents)]).await.unwrap();
        assert!(matches!(outcomes.as_slice(), [Outcome::Applied(_)]), "{outcomes:?}");
        assert_eq!(read_model.item(&item).await.unwrap().map(|i| i.quantity.get()), Some(3));
        tokio::time::timeout(Duration::from_secs(10), async {
            while hints.counts().failed == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the failed push is counted");
        assert_eq!(calls.lock().unwrap().len(), 2, "one refused send above, one for the event");
    }
}
