//! One client's session over its transport: the handshake, then pushes out, pings both ways, close
//! (HubProtocol.md). The same loop serves WebSockets and Server-Sent Events.

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket, close_code};
use tokio::sync::{broadcast, mpsc};
use tokio::time::{Instant, MissedTickBehavior, interval_at, timeout};

use super::Hub;
use super::protocol::{self, ClientMessage, Records};

/// A session's two directions.
pub(super) enum Transport {
    WebSocket(Box<WebSocket>),
    /// Text from the client's POSTs in, text for the event stream out (Server-Sent Events).
    Channels {
        inbound: mpsc::Receiver<String>,
        outbound: mpsc::Sender<String>,
    },
}

impl Transport {
    /// The client's next text; `None` once it has gone.
    async fn recv(&mut self) -> Option<String> {
        match self {
            Transport::WebSocket(socket) => loop {
                match socket.recv().await? {
                    Ok(Message::Text(text)) => return Some(text.to_string()),
                    Ok(Message::Binary(bytes)) => return Some(String::from_utf8_lossy(&bytes).into_owned()),
                    Ok(Message::Ping(_) | Message::Pong(_)) => continue,
                    Ok(Message::Close(_)) | Err(_) => return None,
                }
            },
            Transport::Channels { inbound, .. } => inbound.recv().await,
        }
    }

    /// Sends text; `false` once the client has gone.
    async fn send(&mut self, text: String) -> bool {
        match self {
            Transport::WebSocket(socket) => socket.send(Message::Text(text.into())).await.is_ok(),
            Transport::Channels { outbound, .. } => outbound.send(text).await.is_ok(),
        }
    }

    /// Ends the transport cleanly: a WebSocket Close 1000, or the end of the event stream.
    async fn close(self) {
        match self {
            Transport::WebSocket(mut socket) => {
                let frame = CloseFrame { code: close_code::NORMAL, reason: "".into() };
                let _ = socket.send(Message::Close(Some(frame))).await;
            }
            Transport::Channels { .. } => {}
        }
    }
}

/// Runs the session until either side ends it, then forgets the connection.
pub(super) async fn run(hub: Arc<Hub>, token: String, mut transport: Transport) {
    let mut records = Records::default();
    let first = timeout(hub.timing.handshake_timeout, handshake_record(&mut transport, &mut records)).await;
    if let Ok(Some((record, rest))) = first {
        let handshake = protocol::handshake(&record);
        // Subscribe before answering, so nothing pushed after the answer is missed.
        let updates = hub.updates.subscribe();
        let answered = transport.send(protocol::handshake_response(&handshake)).await;
        match handshake {
            Ok(()) if answered => serve(&hub, &mut transport, records, rest, updates).await,
            Ok(()) => {}
            Err(error) => tracing::debug!(%error, "handshake refused"),
        }
    }
    transport.close().await;
    hub.forget(&token);
}

/// The first record and any that came with it.
async fn handshake_record(transport: &mut Transport, records: &mut Records) -> Option<(String, Vec<String>)> {
    loop {
        let text = transport.recv().await?;
        let mut complete = records.push(&text).ok()?.into_iter();
        if let Some(first) = complete.next() {
            return Some((first, complete.collect()));
        }
    }
}

async fn serve(
    hub: &Hub,
    transport: &mut Transport,
    mut records: Records,
    early: Vec<String>,
    mut updates: broadcast::Receiver<Arc<str>>,
) {
    let timing = hub.timing;
    let mut ping = interval_at(Instant::now() + timing.ping, timing.ping);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut heard = Instant::now();
    if let Some(reply) = answer(&early) {
        if !reply.send(transport).await {
            return;
        }
    }
    loop {
        tokio::select! {
            text = transport.recv() => {
                let Some(text) = text else { return };
                heard = Instant::now();
                let Ok(complete) = records.push(&text) else {
                    let _ = transport.send(protocol::close(Some("message too long"), false)).await;
                    return;
                };
                if let Some(reply) = answer(&complete) {
                    if !reply.send(transport).await {
                        return;
                    }
                }
            }
            update = updates.recv() => match update {
                Ok(frame) => {
                    if !transport.send(frame.to_string()).await {
                        return;
                    }
                    ping.reset();
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "a slow client is dropped (it reconnects)");
                    let _ = transport.send(protocol::close(Some("fell behind"), true)).await;
                    return;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = ping.tick() => {
                if heard.elapsed() > timing.client_timeout {
                    let _ = transport.send(protocol::close(Some("client timeout"), true)).await;
                    return;
                }
                if !transport.send(protocol::ping()).await {
                    return;
                }
            }
        }
    }
}

/// What to send back for client records, and whether the session then ends.
struct Reply {
    text: String,
    ends: bool,
}

impl Reply {
    /// Sends the reply (if any text); `false` when the session is over.
    async fn send(self, transport: &mut Transport) -> bool {
        let sent = self.text.is_empty() || transport.send(self.text).await;
        sent && !self.ends
    }
}

fn answer(records: &[String]) -> Option<Reply> {
    let mut text = String::new();
    for record in records {
        match protocol::client_message(record) {
            ClientMessage::Ping | ClientMessage::Other | ClientMessage::Invocation { invocation_id: None } => {}
            ClientMessage::Invocation { invocation_id: Some(id) } => {
                text.push_str(&protocol::completion_error(&id, "this hub has no methods clients can call"));
            }
            ClientMessage::Close => return Some(Reply { text, ends: true }),
            ClientMessage::Malformed => {
                text.push_str(&protocol::close(Some("malformed message"), false));
                return Some(Reply { text, ends: true });
            }
        }
    }
    (!text.is_empty()).then_some(Reply { text, ends: false })
}
