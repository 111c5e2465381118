//! One module per Azure Function (each a route of the handler), plus the outbox dispatch they share.

pub mod command;
pub mod dashboard;
pub mod dispatch;
pub mod projection;
pub mod query;
pub mod relay;
pub mod stream_locks;
