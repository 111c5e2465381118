//! An optional response cache for query answers.
//!
//! Entries are keyed by a generation number that the projection bumps after applying events and before
//! acknowledging them, so an answer computed before the bump can never be served after it (guarantee 6).
//! A cache that fails answers "miss": it never turns into an error for the client.

use async_trait::async_trait;
use bytes::Bytes;

use super::Cause;

/// The cache could not be invalidated (the projection must then not acknowledge its event).
#[derive(Debug, thiserror::Error)]
#[error("response cache: {0}")]
pub struct CacheError(#[source] pub Cause);

/// The response cache port.
#[async_trait]
pub trait ResponseCache: Send + Sync {
    /// The current generation; answers are cached under keys that include it. `None`: caching is off or down.
    async fn generation(&self) -> Option<u64>;
    async fn get(&self, key: &str) -> Option<Bytes>;
    async fn put(&self, key: &str, value: Bytes);
    /// Makes every entry cached so far unreachable. An error means old entries may still be served.
    async fn invalidate(&self) -> Result<(), CacheError>;
}

/// No cache at all.
pub struct NoCache;

#[async_trait]
impl ResponseCache for NoCache {
    async fn generation(&self) -> Option<u64> {
        None
    }
    async fn get(&self, _key: &str) -> Option<Bytes> {
        None
    }
    async fn put(&self, _key: &str, _value: Bytes) {}
    async fn invalidate(&self) -> Result<(), CacheError> {
        Ok(())
    }
}
