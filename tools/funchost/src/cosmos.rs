//! The Cosmos DB SDK's own in-memory emulator (`azure_data_cosmos_driver`'s `InMemoryEmulatorHttpClient`),
//! served over loopback HTTP, so that every handler instance shares one write store as they share Cosmos DB
//! in Azure.
//!
//! The emulator normally replaces the SDK's transport inside one process. Its request entry point
//! (`execute_request`) takes the same `Request` the SDK would send over the wire, so each HTTP request that
//! reaches this listener is turned back into that `Request` and answered with the emulator's response: the
//! handlers run the real SDK over real HTTP (key auth, account discovery, ETags, transactional batches,
//! queries), and the emulator advertises this listener's address as its one region, so the SDK's endpoint
//! discovery leads back here. The SDK accepts plain `http://` for loopback hosts.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use azure_core::http::headers::{HeaderName, HeaderValue};
use azure_core::http::{Method, Url};
use azure_data_cosmos_driver::in_memory_emulator::{
    ConsistencyLevel, InMemoryEmulatorHttpClient, VirtualAccountConfig, VirtualRegion,
};
use http::StatusCode;

/// Most bytes one request may carry (Cosmos DB's own limit is 2 MB per document; batches stay below).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// The emulator and the base URL it is served at.
pub struct Emulator {
    client: Arc<InMemoryEmulatorHttpClient>,
    base: String,
}

/// Starts the emulator on `listener` with one database and one container (partition key `/pk`), as
/// `bicep/modules/cosmos.bicep` creates them. Returns the account endpoint.
pub async fn serve(listener: tokio::net::TcpListener, database: &str, container: &str) -> anyhow::Result<String> {
    let base = format!("http://{}", listener.local_addr()?);
    let region = VirtualRegion::new("East US", Url::parse(&format!("{base}/"))?);
    let config = VirtualAccountConfig::new(vec![region])?.with_consistency(ConsistencyLevel::Session);
    let client = Arc::new(InMemoryEmulatorHttpClient::new(config));
    client.store().create_database(database);
    let partitioning = serde_json::from_value(serde_json::json!({"paths": ["/pk"], "kind": "Hash", "version": 2}))?;
    client.store().create_container(database, container, partitioning);
    let emulator = Arc::new(Emulator { client, base: base.clone() });
    let router = axum::Router::new().fallback(handle).with_state(emulator);
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(format!("{base}/"))
}

/// One HTTP request in, the emulator's answer out.
async fn handle(State(emulator): State<Arc<Emulator>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Some(method) = method(&parts.method) else {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    };
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let Ok(url) = Url::parse(&format!("{}{path}", emulator.base)) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let mut sdk_request = azure_core::http::Request::new(url, method);
    for (name, value) in &parts.headers {
        if let Ok(value) = value.to_str() {
            sdk_request.insert_header(HeaderName::from(name.as_str().to_owned()), HeaderValue::from(value.to_owned()));
        }
    }
    sdk_request.set_body(bytes);
    let answer = match emulator.client.execute_request(&sdk_request).await {
        Ok(answer) => answer,
        Err(error) => {
            tracing::warn!(%error, "emulator refused the request");
            return (StatusCode::SERVICE_UNAVAILABLE, error.to_string()).into_response();
        }
    };
    let (status, headers, body) = answer.deconstruct();
    let body = match body.collect().await {
        Ok(body) => body,
        Err(error) => return (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    };
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::from_u16(u16::from(status)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in headers.iter() {
        if let (Ok(name), Ok(value)) =
            (http::HeaderName::from_bytes(name.as_str().as_bytes()), http::HeaderValue::from_str(value.as_str()))
        {
            if name != http::header::CONTENT_LENGTH && name != http::header::TRANSFER_ENCODING {
                response.headers_mut().append(name, value);
            }
        }
    }
    response
}

fn method(method: &http::Method) -> Option<Method> {
    Some(match *method {
        http::Method::GET => Method::Get,
        http::Method::POST => Method::Post,
        http::Method::PUT => Method::Put,
        http::Method::DELETE => Method::Delete,
        http::Method::PATCH => Method::Patch,
        http::Method::HEAD => Method::Head,
        _ => return None,
    })
}
