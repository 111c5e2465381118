//! Answering queries: from the read model, through the answer cache. The cache is keyed by the cache's
//! generation, which the projection bumps before it acknowledges events, so no answer computed before an
//! acknowledged event is served after it (guarantee 6).

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::watch;

use super::changes::Changes;
use crate::ports::{ReadModel, ResponseCache};

/// Reads answers from the read model, through the cache.
pub struct QueryService {
    pub read_model: Arc<dyn ReadModel>,
    cache: Arc<dyn ResponseCache>,
    changes: Changes,
}

impl QueryService {
    pub fn new(read_model: Arc<dyn ReadModel>, cache: Arc<dyn ResponseCache>, changes: Changes) -> Self {
        Self { read_model, cache, changes }
    }

    /// The answer for `key`, from the cache when this generation has it.
    pub async fn cached<F, Fut, E>(&self, key: &str, compute: F) -> Result<Bytes, E>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Bytes, E>>,
    {
        let Some(generation) = self.cache.generation().await else {
            count_cache("miss");
            return compute().await;
        };
        let key = format!("{generation}:{key}");
        if let Some(hit) = self.cache.get(&key).await {
            count_cache("hit");
            return Ok(hit);
        }
        count_cache("miss");
        let body = compute().await?;
        self.cache.put(&key, body.clone()).await;
        Ok(body)
    }

    /// Wakes when this process's projection applies events (other instances' are seen by polling).
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }
}

/// `pieshop.cache.requests`: the hit ratio is hits over all.
fn count_cache(result: &'static str) {
    crate::telemetry::metrics::metrics().cache.add(1, &[opentelemetry::KeyValue::new("result", result)]);
}
