//! The embedded response cache: a bounded in-process map, emptied whenever the projection applies events.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;

use crate::ports::ResponseCache;
use crate::ports::cache::CacheError;

/// Past this many entries the map is emptied rather than evicting one by one: answers are cheap to recompute.
const MAX_ENTRIES: usize = 4096;

/// In-process response cache.
#[derive(Default)]
pub struct InProcessCache {
    generation: AtomicU64,
    entries: Mutex<HashMap<String, Bytes>>,
}

impl InProcessCache {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Bytes>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl ResponseCache for InProcessCache {
    async fn generation(&self) -> Option<u64> {
        Some(self.generation.load(Ordering::SeqCst))
    }

    async fn get(&self, key: &str) -> Option<Bytes> {
        self.entries().get(key).cloned()
    }

    async fn put(&self, key: &str, value: Bytes) {
        let mut entries = self.entries();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key.to_owned(), value);
    }

    async fn invalidate(&self) -> Result<(), CacheError> {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.entries().clear();
        Ok(())
    }
}
