//! The response cache on Redis, shared by every instance of the app.
//!
//! Entries live under `<namespace>:answer:<generation>:<key>`; the projection bumps `<namespace>:generation` with
//! INCR after applying events and before acknowledging them, so an answer cached before an event can never be
//! read after it. Entries also expire, bounding what an outage of the INCR could leave behind. A Redis that
//! is down or slow is a miss: queries go to the read model, never to an error. The INCR is the exception: a
//! projection cannot acknowledge without it, so it is tried whatever the reads found and given longer.

use std::time::Duration;

use std::sync::Arc;

use async_trait::async_trait;
use azure_core::credentials::TokenCredential;
use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, IntoConnectionInfo};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::ports::ResponseCache;
use crate::ports::cache::CacheError;

/// Entries expire anyway, so nothing lingers for long whatever happens.
const ENTRY_TTL_SECONDS: u64 = 300;
/// A read that takes longer than this is a miss: the read model is faster than a stuck cache.
const TIMEOUT: Duration = Duration::from_millis(250);
/// After a failure, reads skip Redis for this long instead of paying the timeout on every request.
const BACKOFF: Duration = Duration::from_secs(5);
/// How long the projection's INCR may take. A failed INCR fails its whole delivery into Event Grid's retry
/// schedule (10 s first), so it neither shares the reads' timeout nor skips Redis in their backoff: under a
/// burst, one read slower than 250 ms used to fail every projection on the instance for 5 s
/// (docs/PERFORMANCE.md, eighth round).
const INVALIDATE_TIMEOUT: Duration = Duration::from_secs(2);

/// Entra tokens for Redis last about an hour; connect afresh well before that.
const ENTRA_RENEWAL: Duration = Duration::from_secs(30 * 60);
const ENTRA_SCOPE: &str = "https://redis.azure.com/.default";

/// How to reach Redis.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// May hold a password: kept as a secret so it is never printed.
    pub url: azure_core::credentials::Secret,
    /// `REDIS_USERNAME`: with Entra auth, the identity's object id; the password is then an Entra token.
    pub entra_username: Option<String>,
    /// Prefix of every key (`REDIS_KEY_PREFIX`, default the read model's index prefix): deployments sharing a
    /// Redis must never read each other's answers.
    pub namespace: String,
}

/// A live connection and when it must be replaced (Entra tokens expire).
struct Live {
    connection: ConnectionManager,
    renew_at: Option<Instant>,
}

/// The response cache port on Redis.
pub struct RedisCache {
    info: redis::ConnectionInfo,
    generation_key: String,
    answer_prefix: String,
    entra: Option<(String, Arc<dyn TokenCredential>)>,
    connection: Mutex<Option<Live>>,
    down_until: Mutex<Option<Instant>>,
}

impl RedisCache {
    /// Never fails for an unreachable server: the connection is made on first use and remade after failures.
    /// With `entra_username` set, `credential` supplies the password.
    pub fn new(settings: &RedisSettings, credential: Option<Arc<dyn TokenCredential>>) -> Result<Self, CacheError> {
        let info = settings
            .url
            .secret()
            .into_connection_info()
            .map_err(|e| CacheError(format!("REDIS_URL: {:?}", e.kind()).into()))?;
        let entra = match (&settings.entra_username, credential) {
            (Some(username), Some(credential)) => Some((username.clone(), credential)),
            (Some(_), None) => {
                return Err(CacheError("REDIS_USERNAME is set but no Entra credential is available".into()));
            }
            (None, _) => None,
        };
        Ok(Self {
            info,
            generation_key: format!("{}:generation", settings.namespace),
            answer_prefix: format!("{}:answer:", settings.namespace),
            entra,
            connection: Mutex::new(None),
            down_until: Mutex::new(None),
        })
    }

    /// The client to connect with: the URL as given, or with an Entra token as the password.
    async fn client(&self) -> Result<(redis::Client, Option<Instant>), redis::RedisError> {
        let Some((username, credential)) = &self.entra else {
            return Ok((redis::Client::open(self.info.clone())?, None));
        };
        let token = credential.get_token(&[ENTRA_SCOPE], None).await.map_err(|_| {
            redis::RedisError::from((redis::ErrorKind::AuthenticationFailed, "no Entra token for Redis"))
        })?;
        let settings = self.info.redis_settings().clone().set_username(username).set_password(token.token.secret());
        let client = redis::Client::open(self.info.clone().set_redis_settings(settings))?;
        Ok((client, Some(Instant::now() + ENTRA_RENEWAL)))
    }

    /// Whether reads skip Redis now, after a recent failure.
    async fn backing_off(&self) -> bool {
        self.down_until.lock().await.is_some_and(|until| Instant::now() < until)
    }

    async fn connection(&self) -> Option<ConnectionManager> {
        let mut slot = self.connection.lock().await;
        if let Some(live) = slot.as_ref().filter(|l| l.renew_at.is_none_or(|at| Instant::now() < at)) {
            return Some(live.connection.clone());
        }
        // The longest any caller waits; `run` cuts reads shorter.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(INVALIDATE_TIMEOUT))
            .set_response_timeout(Some(INVALIDATE_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let connected = match self.client().await {
            Ok((client, renew_at)) => ConnectionManager::new_with_config(client, config).await.map(|c| (c, renew_at)),
            Err(error) => Err(error),
        };
        match connected {
            Ok((mut connection, renew_at)) => {
                // A fresh connection may follow an outage during which a projection could not bump the
                // generation: bump it now, so nothing cached before the outage is served after it.
                if let Err(error) = connection.incr::<_, _, u64>(&self.generation_key, 1).await {
                    drop(slot);
                    self.failed(&error).await;
                    return None;
                }
                *slot = Some(Live { connection: connection.clone(), renew_at });
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

    /// A read, or the write of an entry: skipped while backing off, given up after `TIMEOUT`.
    async fn best_effort<T, F, Fut>(&self, op: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        if self.backing_off().await {
            return None;
        }
        self.run(TIMEOUT, op).await
    }

    /// `op` on a connection (made if need be) within `within`; a failure is recorded and is `None`.
    async fn run<T, F, Fut>(&self, within: Duration, op: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let attempt = async { Some(op(self.connection().await?).await) };
        match tokio::time::timeout(within, attempt).await {
            Ok(None) => None, // no connection, already recorded
            Ok(Some(Ok(value))) => Some(value),
            Ok(Some(Err(error))) => {
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
    #[tracing::instrument(name = "Redis generation", skip_all, fields(otel.kind = "client", db.system.name = "redis"))]
    async fn generation(&self) -> Option<u64> {
        let key = self.generation_key.clone();
        self.best_effort(|mut c| async move {
            let value: Option<u64> = c.get(key).await?;
            Ok(value.unwrap_or(0))
        })
        .await
    }

    #[tracing::instrument(name = "Redis get", skip_all, fields(otel.kind = "client", db.system.name = "redis"))]
    async fn get(&self, key: &str) -> Option<Bytes> {
        let key = format!("{}{key}", self.answer_prefix);
        self.best_effort(|mut c| async move { c.get::<_, Option<Vec<u8>>>(key).await }).await.flatten().map(Bytes::from)
    }

    #[tracing::instrument(name = "Redis put", skip_all, fields(otel.kind = "client", db.system.name = "redis"))]
    async fn put(&self, key: &str, value: Bytes) {
        let key = format!("{}{key}", self.answer_prefix);
        self.best_effort(|mut c| async move { c.set_ex::<_, _, ()>(key, value.to_vec(), ENTRY_TTL_SECONDS).await })
            .await;
    }

    #[tracing::instrument(name = "Redis invalidate", skip_all, fields(otel.kind = "client", db.system.name = "redis"))]
    async fn invalidate(&self) -> Result<(), CacheError> {
        // A projection must not acknowledge an event while older answers may still be served: if the INCR
        // fails, the invocation fails and Event Grid delivers the (idempotent) event again.
        let key = self.generation_key.clone();
        let bumped = self.run(INVALIDATE_TIMEOUT, |mut c| async move { c.incr::<_, _, u64>(key, 1).await }).await;
        bumped.map(|_| ()).ok_or_else(|| CacheError("could not bump the cache generation".into()))
    }
}
