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

/// A read that timed out (its own Redis frozen with SIGSTOP, then thawed) makes reads skip Redis for a while,
/// but not the projection's invalidation: that INCR is tried anyway, so one slow read cannot fail every
/// projection on the instance into Event Grid's retry schedule (docs/PERFORMANCE.md, eighth round).
#[tokio::test]
async fn a_read_that_timed_out_does_not_fail_the_invalidations_after_it() {
    if engine("REDIS_URL").is_none() {
        return;
    }
    let port = pieshop_testkit::process::free_port("127.0.0.1");
    let mut server = pieshop_testkit::process::Process::spawn(
        std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null()),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        // polling the server's readiness, not synchronising the test
        assert!(std::time::Instant::now() < deadline, "redis-server did not listen within 10 s");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let cache = redis(&format!("redis://127.0.0.1:{port}"));
    let before = cache.generation().await.expect("a running Redis has a generation");
    let pid = server.child().id().to_string();
    let signal =
        |name: &str| assert!(std::process::Command::new("kill").args(["-s", name, &pid]).status().unwrap().success());
    signal("STOP");
    assert_eq!(cache.get(&format!("{before}:summary")).await, None, "a frozen Redis is a miss");
    signal("CONT");
    assert_eq!(cache.generation().await, None, "reads back off after a failure");
    cache.invalidate().await.expect("the invalidation is tried, and Redis answers it");
    server.kill();
}
