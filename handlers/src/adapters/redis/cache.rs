//! The response cache on Redis, shared by every instance of the app.
//!
//! Entries live under `pieshop:answer:<generation>:<key>`; the projection bumps `pieshop:generation` with
//! INCR after applying events and before acknowledging them, so an answer cached before an event can never be
//! read after it. Entries also expire, bounding what an outage of the INCR could leave behind. A Redis that
//! is down or slow is a miss: queries go to the read model, never to an error.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::ports::ResponseCache;
use crate::ports::cache::CacheError;

const GENERATION_KEY: &str = "pieshop:generation";
/// Entries expire anyway, so nothing lingers for long whatever happens.
const ENTRY_TTL_SECONDS: u64 = 300;
/// A cache that takes longer than this is treated as down: the read model is faster than a stuck cache.
const TIMEOUT: Duration = Duration::from_millis(250);
/// After a failure, skip Redis for this long instead of paying the timeout on every request.
const BACKOFF: Duration = Duration::from_secs(5);

/// How to reach Redis. With Entra auth the password is a token for `https://redis.azure.com/.default`.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// May hold a password: kept as a secret so it is never printed.
    pub url: azure_core::credentials::Secret,
}

/// The response cache port on Redis.
pub struct RedisCache {
    client: redis::Client,
    connection: Mutex<Option<ConnectionManager>>,
    down_until: Mutex<Option<Instant>>,
}

impl RedisCache {
    /// Never fails for an unreachable server: the connection is made on first use and remade after failures.
    pub fn new(settings: &RedisSettings) -> Result<Self, CacheError> {
        let client = redis::Client::open(settings.url.secret()).map_err(|e| CacheError(format!("REDIS_URL: {:?}", e.kind())))?;
        Ok(Self { client, connection: Mutex::new(None), down_until: Mutex::new(None) })
    }

    async fn connection(&self) -> Option<ConnectionManager> {
        if self.down_until.lock().await.is_some_and(|until| Instant::now() < until) {
            return None;
        }
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Some(connection.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(1);
        match ConnectionManager::new_with_config(self.client.clone(), config).await {
            Ok(mut connection) => {
                // A fresh connection may follow an outage during which a projection could not bump the
                // generation: bump it now, so nothing cached before the outage is served after it.
                if let Err(error) = connection.incr::<_, _, u64>(GENERATION_KEY, 1).await {
                    drop(slot);
                    self.failed(&error).await;
                    return None;
                }
                *slot = Some(connection.clone());
                Some(connection)
            }
            Err(error) => {
                drop(slot);
                self.failed(&error).await;
                None
            }
        }
    }

    async fn failed(&self, error: &redis::RedisError) {
        tracing::warn!(error = ?error.kind(), "redis cache unavailable; answering uncached");
        *self.down_until.lock().await = Some(Instant::now() + BACKOFF);
        *self.connection.lock().await = None;
    }

    async fn run<T, F, Fut>(&self, op: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let connection = self.connection().await?;
        match tokio::time::timeout(TIMEOUT, op(connection)).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(error)) => {
                self.failed(&error).await;
                None
            }
            Err(_) => {
                self.failed(&redis::RedisError::from((redis::ErrorKind::Io, "timed out"))).await;
                None
            }
        }
    }
}

#[async_trait]
impl ResponseCache for RedisCache {
    async fn generation(&self) -> Option<u64> {
        self.run(|mut c| async move {
            let value: Option<u64> = c.get(GENERATION_KEY).await?;
            Ok(value.unwrap_or(0))
        })
        .await
    }

    async fn get(&self, key: &str) -> Option<Bytes> {
        let key = format!("pieshop:answer:{key}");
        self.run(|mut c| async move { c.get::<_, Option<Vec<u8>>>(key).await }).await.flatten().map(Bytes::from)
    }

    async fn put(&self, key: &str, value: Bytes) {
        let key = format!("pieshop:answer:{key}");
        self.run(|mut c| async move { c.set_ex::<_, _, ()>(key, value.to_vec(), ENTRY_TTL_SECONDS).await }).await;
    }

    async fn invalidate(&self) -> Result<(), CacheError> {
        // A projection must not acknowledge an event while older answers may still be served: if the INCR
        // fails, the invocation fails and Event Grid delivers the (idempotent) event again.
        let bumped = self.run(|mut c| async move { c.incr::<_, _, u64>(GENERATION_KEY, 1).await }).await;
        bumped.map(|_| ()).ok_or_else(|| CacheError("could not bump the cache generation".into()))
    }
}
