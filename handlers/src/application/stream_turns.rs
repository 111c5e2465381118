//! Commands on one stream take turns inside this process instead of racing.
//!
//! Optimistic concurrency stays the guarantee (another process or instance can still race, and loses with a
//! conflict). But within one process a race is pure waste, and under group commit it is worse: every write of
//! one stream in a group except the first conflicts, so sixteen scanners on one item won one commit per
//! group and an unlucky one could exhaust its retries. Waiting in line (tokio's mutex is first come, first
//! served) gives each command one decision on fresh state.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{Mutex as TurnLock, OwnedMutexGuard};

use crate::domain::StreamId;

/// One turn lock per stream that has a command in flight.
#[derive(Default)]
pub struct StreamTurns {
    locks: Mutex<HashMap<StreamId, Arc<TurnLock<()>>>>,
}

/// A stream's turn; the next command on the stream goes when this is dropped.
pub struct Turn<'a> {
    locks: &'a StreamTurns,
    stream: StreamId,
    lock: Arc<TurnLock<()>>,
    guard: Option<OwnedMutexGuard<()>>,
}

impl StreamTurns {
    /// Waits for the stream's turn.
    pub async fn turn(&self, stream: &StreamId) -> Turn<'_> {
        let lock = self.map().entry(stream.clone()).or_default().clone();
        let guard = lock.clone().lock_owned().await;
        Turn { locks: self, stream: stream.clone(), lock, guard: Some(guard) }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<StreamId, Arc<TurnLock<()>>>> {
        self.locks.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.guard.take();
        let mut map = self.locks.map();
        // Nobody else holds or waits for it (the map's copy and ours are the only ones): forget the stream.
        if Arc::strong_count(&self.lock) == 2 {
            map.remove(&self.stream);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ItemKey, LocationId, Sku};

    fn stream(sku: &str) -> StreamId {
        StreamId::Item(ItemKey { location: LocationId::parse("store-1").unwrap(), sku: Sku::parse(sku).unwrap() })
    }

    #[tokio::test]
    async fn one_turn_per_stream_and_nothing_kept_after() {
        let locks = StreamTurns::default();
        let (apple, cherry) = (stream("apple-pie"), stream("cherry-pie"));
        let first = locks.turn(&apple).await;
        let other_stream = locks.turn(&cherry).await; // another stream is not held up
        let mut second = Box::pin(locks.turn(&apple));
        assert!(futures::poll!(second.as_mut()).is_pending(), "the same stream waits for its turn");
        drop(first);
        let second = second.await;
        drop(second);
        drop(other_stream);
        assert!(locks.map().is_empty(), "streams with nothing in flight are forgotten");
    }
}
