//! The response cache contract, run against the in-process cache and real Redis; and Redis being down.

use std::sync::Arc;

use bytes::Bytes;
use pieshop::adapters::embedded::InProcessCache;
use pieshop::adapters::redis::{RedisCache, RedisSettings};
use pieshop::ports::ResponseCache;

use crate::support::engine;

/// Guarantee 6's mechanism: after `invalidate`, nothing cached before it is reachable.
async fn invalidation_makes_earlier_answers_unreachable(cache: Arc<dyn ResponseCache>) {
    let generation = cache.generation().await.expect("a working cache has a generation");
    let key = format!("{generation}:summary");
    cache.put(&key, Bytes::from_static(b"old answer")).await;
    assert_eq!(cache.get(&key).await, Some(Bytes::from_static(b"old answer")));
    cache.invalidate().await.unwrap();
    let next = cache.generation().await.unwrap();
    assert_ne!(next, generation);
    assert_eq!(cache.get(&format!("{next}:summary")).await, None);
}

#[tokio::test]
async fn in_process_invalidation_makes_earlier_answers_unreachable() {
    invalidation_makes_earlier_answers_unreachable(Arc::new(InProcessCache::default())).await;
}

fn redis(url: &str) -> Arc<RedisCache> {
    Arc::new(
        RedisCache::new(
            &RedisSettings {
                url: azure_core::credentials::Secret::new(url.to_owned()),
                entra_username: None,
                namespace: format!("t{}", uuid::Uuid::new_v4().simple()),
            },
            None,
        )
        .unwrap(),
    )
}

#[tokio::test]
async fn redis_invalidation_makes_earlier_answers_unreachable() {
    let Some(url) = engine("REDIS_URL") else { return };
    invalidation_makes_earlier_answers_unreachable(redis(&url)).await;
}

/// Redis down is a miss, never an error, and never a wait for a long timeout; only invalidation reports it
/// (so the projection does not acknowledge an event while stale answers could be served).
#[tokio::test]
async fn a_redis_that_is_down_is_a_miss_not_an_error() {
    let port = pieshop_testkit::process::free_port("127.0.0.1"); // nothing listens there
    let cache = redis(&format!("redis://127.0.0.1:{port}"));
    assert_eq!(cache.generation().await, None);
    cache.put("0:x", Bytes::from_static(b"x")).await;
    assert_eq!(cache.get("0:x").await, None);
    assert!(cache.invalidate().await.is_err());
}
