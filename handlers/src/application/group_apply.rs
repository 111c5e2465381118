//! Applying events to the read model in groups. Event Grid delivers one event per invocation and many invocations
//! at once; one read-model write (and, on Elasticsearch, one refresh wait) per event capped the projection far
//! below what the read model takes. Events that arrive while a write is in flight join the next one: one write,
//! one cache invalidation, one change signal, and then every caller gets its own events' outcomes. The same
//! leader-task pattern as the embedded database's group commit (`adapters/embedded/sqlite.rs`), with up to
//! `WRITERS` leaders at once, because a write mostly waits (for Elasticsearch's refresh): a caller starts a leader
//! when fewer are running, and a leader looks at the queue once more after stepping down, so nothing queued is
//! stranded. Measurements: docs/PERFORMANCE.md.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;
use tracing::Instrument;

use super::changes::Changes;
use crate::domain::Event;
use crate::ports::read_model::Applied;
use crate::ports::{ReadModel, ReadModelError, ResponseCache};
use crate::telemetry::trace_context;

/// Most events one write carries (Event Grid's own most per delivery).
const MAX_EVENTS: usize = 5000;
/// Writes in flight at once.
const WRITERS: usize = 4;

/// One caller's events and where its outcomes go.
struct Waiting {
    events: Vec<Event>,
    answer: oneshot::Sender<Result<Vec<Applied>, ReadModelError>>,
}

/// The read model's writes, grouped; the answer cache invalidated and the change signal raised after each.
pub struct GroupApply {
    read_model: Arc<dyn ReadModel>,
    cache: Arc<dyn ResponseCache>,
    changes: Changes,
    queue: Mutex<Vec<Waiting>>,
    /// Leaders running (each takes a group, writes it, and looks for more).
    leaders: AtomicUsize,
}

impl GroupApply {
    pub fn new(read_model: Arc<dyn ReadModel>, cache: Arc<dyn ResponseCache>, changes: Changes) -> Arc<Self> {
        Arc::new(Self { read_model, cache, changes, queue: Mutex::default(), leaders: AtomicUsize::new(0) })
    }

    /// Applies `events` (in order) with whatever else is waiting; answers once they are durable in the read model
    /// and no answer cached before them can be served.
    pub async fn apply(self: &Arc<Self>, events: Vec<Event>) -> Result<Vec<Applied>, ReadModelError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let (answer, answered) = oneshot::channel();
        self.queue().push(Waiting { events, answer });
        if self.try_become_leader() {
            tokio::spawn(self.clone().lead());
        }
        answered.await.map_err(|_| ReadModelError::Unavailable("a grouped write was dropped unanswered".into()))?
    }

    /// Counts one more leader, unless `WRITERS` are running.
    fn try_become_leader(&self) -> bool {
        self.leaders.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < WRITERS).then_some(n + 1)).is_ok()
    }

    async fn lead(self: Arc<Self>) {
        loop {
            tokio::task::yield_now().await; // callers on their way join this group
            let group = self.take_group();
            if !group.is_empty() {
                self.write(group).await;
                continue;
            }
            self.leaders.fetch_sub(1, Ordering::AcqRel);
            // A caller that queued after the take may have found every leader slot taken and counts on this look.
            if self.queue().is_empty() || !self.try_become_leader() {
                return;
            }
        }
    }

    /// Waiting callers, oldest first, up to `MAX_EVENTS` events (at least one caller when any waits).
    fn take_group(&self) -> Vec<Waiting> {
        let mut queue = self.queue();
        let mut events = 0;
        let take = queue
            .iter()
            .take_while(|w| {
                events += w.events.len();
                events <= MAX_EVENTS
            })
            .count()
            .max(1)
            .min(queue.len());
        queue.drain(..take).collect()
    }

    async fn write(&self, group: Vec<Waiting>) {
        let events: Vec<Event> = group.iter().flat_map(|w| w.events.iter().cloned()).collect();
        let written = async {
            let applied = self.read_model.apply_batch(&events).await?;
            // No cached answer computed before these events may be served after they are acknowledged.
            self.cache.invalidate().await.map_err(|e| ReadModelError::Unavailable(e.into()))?;
            self.changes.notify();
            Ok::<_, ReadModelError>(applied)
        };
        // In the trace of the group's first event, linked to the others': its read-model and cache calls are
        // that trace's dependencies.
        let span = trace_context::events_span("apply group", &events);
        match written.instrument(span).await {
            Ok(applied) => {
                let mut outcomes = applied.into_iter();
                for waiting in group {
                    let mine = outcomes.by_ref().take(waiting.events.len()).collect();
                    let _ = waiting.answer.send(Ok(mine));
                }
            }
            Err(error) => {
                for waiting in group {
                    let _ = waiting.answer.send(Err(same_kind(&error)));
                }
            }
        }
    }

    fn queue(&self) -> MutexGuard<'_, Vec<Waiting>> {
        self.queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The group's error for each caller: the same kind, the same words.
fn same_kind(error: &ReadModelError) -> ReadModelError {
    match error {
        ReadModelError::Unavailable(_) => ReadModelError::Unavailable(error.to_string().into()),
        ReadModelError::Corrupt(_) => ReadModelError::Corrupt(error.to_string().into()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use async_trait::async_trait;

    use super::*;
    use crate::adapters::embedded::{InProcessCache, SqliteReadModel};
    use crate::domain::ItemKey;
    use crate::domain::Timestamp;
    use crate::ports::read_model::{ActivityQuery, InventoryPage, InventoryQuery, ItemView, Summary};

    /// The SQLite read model, counting its writes.
    struct Counting {
        inner: SqliteReadModel,
        writes: AtomicUsize,
    }

    #[async_trait]
    impl ReadModel for Counting {
        async fn apply(&self, event: &Event) -> Result<Applied, ReadModelError> {
            self.inner.apply(event).await
        }
        async fn apply_batch(&self, events: &[Event]) -> Result<Vec<Applied>, ReadModelError> {
            self.writes.fetch_add(1, Ordering::SeqCst);
            self.inner.apply_batch(events).await
        }
        async fn inventory(&self, query: &InventoryQuery) -> Result<InventoryPage, ReadModelError> {
            self.inner.inventory(query).await
        }
        async fn item(&self, key: &ItemKey) -> Result<Option<ItemView>, ReadModelError> {
            self.inner.item(key).await
        }
        async fn summary(&self) -> Result<Summary, ReadModelError> {
            self.inner.summary().await
        }
        async fn locations(&self) -> Result<Vec<crate::ports::read_model::LocationView>, ReadModelError> {
            self.inner.locations().await
        }
        async fn activity(&self, query: &ActivityQuery) -> Result<Vec<Event>, ReadModelError> {
            self.inner.activity(query).await
        }
        async fn as_of(&self) -> Result<Option<Timestamp>, ReadModelError> {
            self.inner.as_of().await
        }
        async fn rebuild(&self, events: &[Event]) -> Result<(), ReadModelError> {
            self.inner.rebuild(events).await
        }
    }

    use crate::domain::event::received;

    /// Many callers at once: each is answered with its own events' outcomes (a stale copy is `Stale`), none is
    /// left waiting, and they share far fewer writes than there are callers.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_callers_share_writes_and_each_gets_its_own_outcomes() {
        let dir = tempfile::tempdir().unwrap();
        let inner = SqliteReadModel::open(&dir.path().join("read.db")).unwrap();
        let read_model = Arc::new(Counting { inner, writes: AtomicUsize::new(0) });
        let group = GroupApply::new(read_model.clone(), Arc::new(InProcessCache::default()), Changes::default());
        let callers = (0..200u64).map(|n| {
            let group = group.clone();
            tokio::spawn(async move {
                let event = received(&format!("pie-{n}"), 1);
                let outcomes = group.apply(vec![event.clone(), event]).await.unwrap();
                assert_eq!(outcomes, [Applied::Applied, Applied::Stale], "caller {n}");
            })
        });
        let all = futures::future::join_all(callers);
        for joined in tokio::time::timeout(Duration::from_secs(30), all).await.expect("a caller was stranded") {
            joined.unwrap();
        }
        let writes = read_model.writes.load(Ordering::SeqCst);
        assert!(writes < 200, "200 callers took {writes} writes");
    }
}
