//! The ports: what the functions need from the world. Each has an embedded adapter and an Azure adapter,
//! and one contract test suite that both must pass.

pub mod cache;
pub mod dead_letters;
pub mod publisher;
pub mod push;
pub mod read_model;
pub mod write_store;

pub use cache::ResponseCache;
pub use dead_letters::{DeadLetterError, DeadLetters};

/// What an adapter reports as the cause of a failure: kept as the error's source (for logs and for code that
/// inspects it), never returned to clients. Strings convert too (`"throttled".into()`).
pub type Cause = Box<dyn std::error::Error + Send + Sync>;
pub use publisher::{EventPublisher, EventSink, PublishError};
pub use read_model::{ReadModel, ReadModelError};
pub use write_store::{CommandStore, Outbox, Replay, Retention, StoreError, Transfers, WriteStore};

use std::sync::Arc;

/// One adapter per port: what `main` wires and what tests swap.
#[derive(Clone)]
pub struct Adapters {
    pub write_store: Arc<dyn WriteStore>,
    pub publisher: Arc<dyn EventPublisher>,
    pub read_model: Arc<dyn ReadModel>,
    pub cache: Arc<dyn ResponseCache>,
    /// `embedded` or `azure`, as reported by `/api/health`.
    pub backend: &'static str,
}
