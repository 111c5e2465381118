//! A local Application Insights ingestion endpoint (`POST /v2/track` and `/v2.1/track`, gzip or not, a JSON
//! array of envelopes, answered as Breeze answers), plus the App Service managed-identity token endpoint
//! (`IDENTITY_ENDPOINT`), so the real binary's uploads can be decoded and their Entra token checked. The
//! exporter sends only to `https://` (it upgrades an `http://` endpoint, as Microsoft's exporters do), so the
//! endpoint serves TLS with a certificate made for the test, which the handler trusts through `SSL_CERT_FILE`.

use std::io::Read;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::{get, post};
use pieshop_testkit::process::Standalone;
use serde_json::{Value, json};

/// The token the identity endpoint hands out.
pub const TOKEN: &str = "entra-token-for-the-test";
/// What the handler must send back to the identity endpoint (`IDENTITY_HEADER`).
pub const IDENTITY_HEADER: &str = "identity-header-for-the-test";

/// Every upload: its path, its `Authorization` header, and its envelopes.
#[derive(Default)]
pub struct Received {
    pub uploads: Vec<(String, Option<String>)>,
    pub envelopes: Vec<Value>,
    /// The `resource` of every token request.
    pub token_resources: Vec<String>,
}

/// One `customMetrics` row as Application Insights stores a metric data point.
#[derive(Debug, Clone)]
pub struct MetricRow {
    pub name: String,
    pub value_sum: f64,
    pub value_max: f64,
}

type Shared = Arc<Mutex<Received>>;

pub struct Ingestion {
    pub url: String,
    pub received: Shared,
    /// The CA the endpoint's certificate is signed by, as a PEM file for `SSL_CERT_FILE`.
    ca_file: tempfile::NamedTempFile,
}

/// A CA and a certificate it signed for 127.0.0.1: (CA PEM, server TLS configuration).
fn tls() -> (String, tokio_rustls::rustls::ServerConfig) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap().signed_by(&key, &issuer).unwrap();
    let provider = std::sync::Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    let key = tokio_rustls::rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .unwrap();
    (ca.pem(), config)
}

/// Serves `app` over TLS on `listener` (hyper's connection builder behind tokio-rustls' acceptor).
fn serve_tls(listener: tokio::net::TcpListener, config: tokio_rustls::rustls::ServerConfig, app: Router) {
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(stream).await else { return };
                let service = hyper_util::service::TowerToHyperService::new(app);
                let _ = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

impl Ingestion {
    pub async fn start() -> Self {
        let received: Shared = Arc::default();
        let app = Router::new()
            .route("/v2/track", post(track))
            .route("/v2.1/track", post(track))
            .route("/msi/token", get(token))
            .with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        let (ca, config) = tls();
        serve_tls(listener, config, app);
        let ca_file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(ca_file.path(), ca).unwrap();
        Self { url, received, ca_file }
    }

    pub fn connection_string(&self) -> String {
        format!("InstrumentationKey=00000000-0000-0000-0000-000000000024;IngestionEndpoint={}/", self.url)
    }

    /// The handler with telemetry to this endpoint every 100–200 ms, Entra uploads through the identity endpoint.
    pub fn handler(&self, data_dir: &std::path::Path) -> std::process::Command {
        let mut command = crate::helpers::handler_command();
        command
            .env("PIESHOP_DATA_DIR", data_dir)
            .env("PIESHOP_LOG_FORMAT", "json")
            .env("PIESHOP_RELAY_MIN_AGE_MS", "0")
            .env("PIESHOP_RELAY_INTERVAL_MS", "100")
            .env("RUST_LOG", "debug,h2=info,hyper=info,reqwest=info,opentelemetry=info,azure_core=info")
            .env("APPLICATIONINSIGHTS_CONNECTION_STRING", self.connection_string())
            .env("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", "Authorization=AAD")
            .env("SSL_CERT_FILE", self.ca_file.path())
            .env("IDENTITY_ENDPOINT", format!("{}/msi/token", self.url))
            .env("IDENTITY_HEADER", IDENTITY_HEADER)
            .env("OTEL_BSP_SCHEDULE_DELAY", "100")
            .env("OTEL_METRIC_EXPORT_INTERVAL", "200")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("FUNCTIONS_CUSTOMHANDLER_PORT")
            .env_remove("PIESHOP_API_KEYS")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    }

    pub fn envelopes(&self) -> Vec<Value> {
        self.received.lock().unwrap().envelopes.clone()
    }

    /// Every metric data point received, as `customMetrics` rows.
    pub fn metric_rows(&self) -> Vec<MetricRow> {
        let envelopes = self.envelopes();
        let points = envelopes
            .iter()
            .filter(|e| e["data"]["baseType"] == "MetricData")
            .flat_map(|e| e["data"]["baseData"]["metrics"].as_array().cloned().unwrap_or_default());
        points
            .map(|p| {
                let value = p["value"].as_f64().unwrap_or_default();
                MetricRow {
                    name: p["name"].as_str().unwrap_or_default().to_owned(),
                    value_sum: value,
                    value_max: p["max"].as_f64().unwrap_or(value),
                }
            })
            .collect()
    }

    /// Waits (with a deadline) until `done` holds for what was received.
    pub async fn wait_for(&self, what: &str, done: impl Fn(&Ingestion) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done(self) {
            let names: Vec<String> = self.metric_rows().into_iter().map(|r| r.name).collect();
            assert!(Instant::now() < deadline, "never received {what}; metrics so far: {names:?}");
            tokio::time::sleep(Duration::from_millis(50)).await; // polling the receiver
        }
    }
}

async fn track(State(received): State<Shared>, uri: Uri, headers: HeaderMap, body: Bytes) -> Json<Value> {
    let gzip = headers.get("content-encoding").is_some_and(|v| v == "gzip");
    let mut text = String::new();
    if gzip {
        flate2::read::GzDecoder::new(&body[..]).read_to_string(&mut text).expect("gzip body");
    } else {
        text = String::from_utf8(body.to_vec()).expect("utf-8 body");
    }
    let envelopes: Vec<Value> = serde_json::from_str(&text).expect("a JSON array of envelopes");
    let count = envelopes.len();
    let authorization = headers.get("authorization").map(|v| v.to_str().unwrap().to_owned());
    let mut received = received.lock().unwrap();
    received.uploads.push((uri.path().to_owned(), authorization));
    received.envelopes.extend(envelopes);
    Json(json!({"itemsReceived": count, "itemsAccepted": count, "errors": []}))
}

/// The App Service managed-identity protocol (learn.microsoft.com/azure/app-service/overview-managed-identity,
/// "REST endpoint reference"): `GET $IDENTITY_ENDPOINT?resource=...&api-version=2019-08-01` with
/// `X-IDENTITY-HEADER: $IDENTITY_HEADER`; `expires_on` is a string of Unix seconds.
async fn token(
    State(received): State<Shared>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Json<Value>, StatusCode> {
    if headers.get("x-identity-header").is_none_or(|v| v != IDENTITY_HEADER) {
        return Err(StatusCode::UNAUTHORIZED);
    }
    let resource = query.get("resource").cloned().unwrap_or_default();
    received.lock().unwrap().token_resources.push(resource.clone());
    let expires = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 3600;
    Ok(Json(
        json!({"access_token": TOKEN, "expires_on": expires.to_string(), "token_type": "Bearer", "resource": resource}),
    ))
}

/// Starts `command` (from [`Ingestion::handler`]) standalone on a free port, and waits until it answers.
pub async fn start(mut command: std::process::Command) -> Standalone {
    let handler = Standalone::spawn(&mut command, "127.0.0.1");
    assert!(handler.ready(Duration::from_secs(30)).await, "the handler never answered");
    handler
}
