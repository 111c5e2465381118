//! Live push: change messages for open dashboards (SignalR hub `inventory`), and the negotiate answer that tells a
//! client where to connect. A message is a hint: a client that misses one is still correct (it re-reads), so a
//! failed send is logged and counted, never retried and never a reason to fail the projection.

use async_trait::async_trait;
use serde_json::Value;

use super::Cause;

/// The hub every message goes to (lower case: the service lower-cases hub names).
pub const HUB: &str = "inventory";

/// One invocation for every connected client: `target` is the client-side handler, `argument` its only argument.
#[derive(Debug, Clone, PartialEq)]
pub struct PushMessage {
    pub target: &'static str,
    pub argument: Value,
}

/// Where a client connects, as the SignalR negotiate answer gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Negotiation {
    /// This process is the hub: the client connects back here with `connection_token` as `id`.
    Direct { connection_id: String, connection_token: String },
    /// Elsewhere (Azure SignalR Service): the client negotiates again at `url` with `access_token`.
    Redirect { url: String, access_token: String },
}

/// Sending or negotiating failed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("push service unavailable: {0}")]
    Unavailable(#[source] Cause),
    #[error("push service refused the request: {0}")]
    Refused(String),
}

/// Sends messages to every connected client.
#[async_trait]
pub trait Push: Send + Sync {
    async fn send(&self, message: &PushMessage) -> Result<(), PushError>;

    /// Whether a message sent now could reach anyone. A hub with no sessions says no, and the projection's changes
    /// are then not even read back (a client re-reads when it connects).
    fn listening(&self) -> bool {
        true
    }
}

/// Answers a client's negotiate.
#[async_trait]
pub trait Negotiator: Send + Sync {
    async fn negotiate(&self) -> Result<Negotiation, PushError>;
}

/// This process's own hub, as `/api/health` counts it.
pub trait Sessions: Send + Sync {
    /// Sessions open now.
    fn clients(&self) -> usize;
}

/// No live push here: negotiate answers 503 and clients poll. Under the Functions host without a SignalR Service the
/// process cannot be the hub (the host routes only functions, and instances come and go).
pub struct NoNegotiate;

#[async_trait]
impl Negotiator for NoNegotiate {
    async fn negotiate(&self) -> Result<Negotiation, PushError> {
        Err(PushError::Unavailable("no SignalR Service is configured (AZURE_SIGNALR_ENDPOINT)".into()))
    }
}
