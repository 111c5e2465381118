//! Streams' latest committed states, kept in memory so deciding a command needs no database read.
//!
//! Only a hint: every commit still checks the stream's version in the database, a lost race evicts the
//! stream, and a command refused on a cached state is decided again on the stored one (another process, such
//! as `handler relay`, may have written the file since).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use crate::domain::{Aggregate, StreamId};

/// Past this many streams the map is emptied rather than evicting one by one: a miss costs one read.
const MAX_STREAMS: usize = 16_384;

/// Committed stream states by stream.
#[derive(Default)]
pub struct StreamCache {
    states: Mutex<HashMap<StreamId, Aggregate>>,
}

impl StreamCache {
    pub fn get(&self, stream: &StreamId) -> Option<Aggregate> {
        self.states().get(stream).cloned()
    }

    /// Records a committed state, unless a newer one is already held (commits may report out of order).
    pub fn put(&self, stream: &StreamId, state: &Aggregate) {
        let mut states = self.states();
        if states.get(stream).is_some_and(|held| held.version() >= state.version()) {
            return;
        }
        if states.len() >= MAX_STREAMS {
            states.clear();
        }
        states.insert(stream.clone(), state.clone());
    }

    pub fn evict(&self, stream: &StreamId) {
        self.states().remove(stream);
    }

    /// Nothing is left half-done while the lock is held, so a poisoned map is safe to take over.
    fn states(&self) -> MutexGuard<'_, HashMap<StreamId, Aggregate>> {
        self.states.lock().unwrap_or_else(|p| p.into_inner())
    }
}
