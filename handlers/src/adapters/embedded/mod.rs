//! The embedded default: SQLite for both sides, in-process cache and event delivery. No network, no Azure.

pub mod cache;
pub mod migrations;
pub mod publisher;
pub mod read_model;
pub mod sqlite;
pub mod write_store;

pub use cache::InProcessCache;
pub use publisher::InProcessPublisher;
pub use read_model::SqliteReadModel;
pub use write_store::SqliteWriteStore;
