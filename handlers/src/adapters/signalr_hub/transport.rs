//! The SignalR transports at the hub URL `/api` (so `withUrl(origin + "/api")` negotiates at `/api/negotiate`,
//! as it does in Azure): `GET /api?id=<token>` upgrades to a WebSocket or opens a Server-Sent Events stream, and
//! `POST /api?id=<token>` carries the SSE client's messages. Spec: dotnet/aspnetcore
//! `src/SignalR/docs/specs/TransportProtocols.md` (400 without `id`, 404 for an unknown one, 409 for a second
//! transport). The connection token is the secret here (the spec: "this value should be kept secret"), so these
//! routes need no function key; negotiate, which hands tokens out, does.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Query, Request, State};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use http::{StatusCode, header};
use serde::Deserialize;
use tokio::sync::mpsc;

use super::session::{self, Transport};
use super::{Connection, Hub};

/// Client text waiting for an SSE session, and session text waiting for the event stream.
const CHANNEL: usize = 64;
/// Each WebSocket's read and write buffer.
const SOCKET_BUFFER: usize = 4 * 1024;
/// The longest message a client may send (its own are handshakes, pings and closes).
const MAX_MESSAGE: usize = 64 * 1024;

#[derive(Deserialize)]
struct Id {
    id: Option<String>,
}

/// The hub's transport routes.
pub fn routes(hub: Arc<Hub>) -> Router {
    Router::new().route("/api", get(connect).post(send)).with_state(hub)
}

fn status(code: StatusCode, text: &'static str) -> Response {
    (code, text).into_response()
}

async fn connect(State(hub): State<Arc<Hub>>, Query(Id { id }): Query<Id>, request: Request) -> Response {
    let Some(token) = id else { return status(StatusCode::BAD_REQUEST, "id is required") };
    let (mut parts, _) = request.into_parts();
    if parts.headers.contains_key(header::UPGRADE) {
        let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
            Ok(upgrade) => upgrade,
            Err(rejection) => return rejection.into_response(),
        };
        if let Err(code) = hub.claim(&token, Connection::WebSocket) {
            return status(code, "no such connection, or it has a transport");
        }
        // Hub messages are small: tungstenite's 128 KiB default buffers per socket would dwarf everything else the
        // handler holds with hundreds of dashboards open.
        let upgrade =
            upgrade.read_buffer_size(SOCKET_BUFFER).write_buffer_size(SOCKET_BUFFER).max_message_size(MAX_MESSAGE);
        return upgrade.on_upgrade(move |socket| session::run(hub, token, Transport::WebSocket(Box::new(socket))));
    }
    let (inbound_sender, inbound) = mpsc::channel(CHANNEL);
    if let Err(code) = hub.claim(&token, Connection::ServerSentEvents { inbound: inbound_sender }) {
        return status(code, "no such connection, or it has a transport");
    }
    let (outbound, stream) = mpsc::channel(CHANNEL);
    tokio::spawn(session::run(hub, token, Transport::Channels { inbound, outbound }));
    let events = futures::stream::unfold(stream, |mut stream: mpsc::Receiver<String>| async move {
        let text = stream.recv().await?;
        Some((Ok::<_, Infallible>(Event::default().data(text)), stream))
    });
    let mut response = Sse::new(events).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, http::HeaderValue::from_static("no-cache"));
    response
}

async fn send(State(hub): State<Arc<Hub>>, Query(Id { id }): Query<Id>, body: Bytes) -> Response {
    let Some(token) = id else { return status(StatusCode::BAD_REQUEST, "id is required") };
    let inbound = match hub.inbound(&token) {
        Ok(inbound) => inbound,
        Err(code) => return status(code, "no such connection, or it does not use Server-Sent Events"),
    };
    let Ok(text) = String::from_utf8(body.to_vec()) else {
        return status(StatusCode::BAD_REQUEST, "the body is not UTF-8 text");
    };
    match inbound.send(text).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(_) => status(StatusCode::NOT_FOUND, "the connection has ended"),
    }
}
