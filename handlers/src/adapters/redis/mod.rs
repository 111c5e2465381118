//! The Redis response cache (`redis` crate).

mod cache;

pub use cache::{RedisCache, RedisSettings};
