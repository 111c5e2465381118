//! The standalone hub: with no SignalR Service, this process is the hub `inventory` itself. It answers negotiate
//! with the direct form, speaks the SignalR transports (`transport.rs`: WebSockets, Server-Sent Events) and the
//! JSON hub protocol (`protocol.rs`, `session.rs`), and fans every push out to every session through one
//! `tokio::sync::broadcast` channel: a session that falls behind is closed (it reconnects), never waited for.

pub mod protocol;
mod session;
pub mod transport;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;

use crate::ports::push::{Negotiation, Negotiator, Push, PushError, PushMessage, Sessions};

/// Messages a session may fall behind by before it is closed.
const BACKLOG: usize = 1024;
/// A negotiated connection the client never opened is forgotten after this.
const UNCLAIMED: Duration = Duration::from_secs(60);

/// The hub's clocks. The defaults are ASP.NET Core's (KeepAliveInterval 15 s, ClientTimeoutInterval 30 s,
/// HandshakeTimeout 15 s), which the official client's own timeouts assume.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub ping: Duration,
    pub client_timeout: Duration,
    pub handshake_timeout: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            ping: Duration::from_secs(15),
            client_timeout: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(15),
        }
    }
}

/// A negotiated connection: waiting for its transport, or served by one.
enum Connection {
    Negotiated {
        at: Instant,
    },
    WebSocket,
    /// Server-Sent Events down, HTTP POSTs up: each POST's text goes to the session through `inbound`.
    ServerSentEvents {
        inbound: mpsc::Sender<String>,
    },
}

/// The hub: negotiated connections by token, and the channel every session listens to.
pub struct Hub {
    connections: Mutex<HashMap<String, Connection>>,
    updates: broadcast::Sender<Arc<str>>,
    timing: Timing,
}

impl Default for Hub {
    fn default() -> Self {
        Self::with_timing(Timing::default())
    }
}

impl Hub {
    pub fn with_timing(timing: Timing) -> Self {
        Self { connections: Mutex::default(), updates: broadcast::channel(BACKLOG).0, timing }
    }

    fn connections(&self) -> MutexGuard<'_, HashMap<String, Connection>> {
        self.connections.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Claims a negotiated connection for a transport; `Err` is the HTTP status the spec gives (404 unknown, 409
    /// already served).
    fn claim(&self, token: &str, as_: Connection) -> Result<(), http::StatusCode> {
        match self.connections().get_mut(token) {
            None => Err(http::StatusCode::NOT_FOUND),
            Some(connection @ Connection::Negotiated { .. }) => {
                *connection = as_;
                Ok(())
            }
            Some(_) => Err(http::StatusCode::CONFLICT),
        }
    }

    fn inbound(&self, token: &str) -> Result<mpsc::Sender<String>, http::StatusCode> {
        match self.connections().get(token) {
            None => Err(http::StatusCode::NOT_FOUND),
            Some(Connection::ServerSentEvents { inbound }) => Ok(inbound.clone()),
            Some(_) => Err(http::StatusCode::CONFLICT),
        }
    }

    fn forget(&self, token: &str) {
        self.connections().remove(token);
    }
}

impl Sessions for Hub {
    fn clients(&self) -> usize {
        self.updates.receiver_count()
    }
}

#[async_trait]
impl Negotiator for Hub {
    async fn negotiate(&self) -> Result<Negotiation, PushError> {
        let connection_id = uuid::Uuid::new_v4().simple().to_string();
        let connection_token = uuid::Uuid::new_v4().simple().to_string();
        let now = Instant::now();
        let mut connections = self.connections();
        connections.retain(|_, c| !matches!(c, Connection::Negotiated { at } if now.duration_since(*at) > UNCLAIMED));
        connections.insert(connection_token.clone(), Connection::Negotiated { at: now });
        Ok(Negotiation::Direct { connection_id, connection_token })
    }
}

#[async_trait]
impl Push for Hub {
    async fn send(&self, message: &PushMessage) -> Result<(), PushError> {
        let frame = protocol::invocation(message.target, std::slice::from_ref(&message.argument));
        // No session listening is not a failure: nobody is watching.
        let _ = self.updates.send(Arc::from(frame));
        Ok(())
    }

    fn listening(&self) -> bool {
        self.clients() > 0
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::session::{self, Transport};
    use super::*;

    /// A session over channels (as Server-Sent Events runs it) on a hub with short clocks.
    async fn session(hub: &Arc<Hub>) -> (mpsc::Sender<String>, mpsc::Receiver<String>) {
        let Ok(Negotiation::Direct { connection_token, .. }) = hub.negotiate().await else { panic!("direct form") };
        let (to_session, inbound) = mpsc::channel(8);
        let (outbound, from_session) = mpsc::channel(8);
        hub.claim(&connection_token, Connection::ServerSentEvents { inbound: to_session.clone() }).unwrap();
        tokio::spawn(session::run(hub.clone(), connection_token, Transport::Channels { inbound, outbound }));
        (to_session, from_session)
    }

    fn short() -> Timing {
        Timing {
            ping: Duration::from_millis(50),
            client_timeout: Duration::from_millis(400),
            handshake_timeout: Duration::from_secs(5),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_session_answers_the_handshake_relays_pushes_pings_on_an_interval_and_drops_a_silent_client() {
        let hub = Arc::new(Hub::with_timing(short()));
        let (client, mut server) = session(&hub).await;
        client.send("{\"protocol\":\"json\",\"version\":1}\u{1e}".into()).await.unwrap();
        assert_eq!(server.recv().await.unwrap(), "{}\u{1e}");
        assert_eq!(hub.clients(), 1);
        hub.send(&PushMessage { target: "stockChanged", argument: json!({"sku": "apple-pie"}) }).await.unwrap();
        assert_eq!(
            server.recv().await.unwrap(),
            "{\"arguments\":[{\"sku\":\"apple-pie\"}],\"target\":\"stockChanged\",\"type\":1}\u{1e}"
        );
        assert_eq!(server.recv().await.unwrap(), protocol::ping());
        client.send("{\"type\":6}\u{1e}".into()).await.unwrap();
        // Silent from now on: pings continue until the client timeout, then a close that allows reconnecting.
        let mut after_pings = Vec::new();
        while let Some(text) = server.recv().await {
            after_pings.push(text);
        }
        let (close, pings) = after_pings.split_last().unwrap();
        assert!(pings.len() >= 2 && pings.iter().all(|p| *p == protocol::ping()), "{after_pings:?}");
        assert_eq!(*close, protocol::close(Some("client timeout"), true));
        assert!(hub.connections().is_empty(), "the connection is forgotten");
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_falls_behind_is_closed_with_reconnect_allowed_and_never_blocks_a_push() {
        let hub = Arc::new(Hub::with_timing(Timing { ping: Duration::from_secs(3600), ..short() }));
        let (client, mut server) = session(&hub).await;
        client.send("{\"protocol\":\"json\",\"version\":1}\u{1e}".into()).await.unwrap();
        assert_eq!(server.recv().await.unwrap(), "{}\u{1e}");
        for n in 0..(BACKLOG + 100) {
            hub.send(&PushMessage { target: "stockChanged", argument: json!(n) }).await.unwrap();
        }
        let mut last = String::new();
        while let Some(text) = server.recv().await {
            last = text;
        }
        assert_eq!(last, protocol::close(Some("fell behind"), true));
    }

    #[tokio::test]
    async fn a_blocking_invocation_is_answered_with_an_error_and_a_close_ends_the_session() {
        let hub = Arc::new(Hub::default());
        let (client, mut server) = session(&hub).await;
        client
            .send("{\"protocol\":\"json\",\"version\":1}\u{1e}{\"type\":1,\"invocationId\":\"1\",\"target\":\"x\",\"arguments\":[]}\u{1e}".into())
            .await
            .unwrap();
        assert_eq!(server.recv().await.unwrap(), "{}\u{1e}");
        assert_eq!(
            server.recv().await.unwrap(),
            protocol::completion_error("1", "this hub has no methods clients can call")
        );
        client.send("{\"type\":7}\u{1e}".into()).await.unwrap();
        assert_eq!(server.recv().await, None, "the session ended");
    }
}
