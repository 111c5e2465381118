//! Pushing what the projection applied to open dashboards: `stockChanged` with the item as
//! `GET /api/inventory/{location}/{sku}` shows it (plus `asOf`), `productChanged` with the product,
//! `locationChanged` with the location's definition (as `GET /api/locations` lists it, without its totals).
//!
//! The projection only hands applied events to a bounded queue (never waits, never fails); one task drains it,
//! reads each changed item once however many events touched it meanwhile, and sends. A full queue, a failed read
//! or a failed send loses a hint, counted here: clients re-read on reconnect and poll as a fallback.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use futures::StreamExt;
use tokio::sync::mpsc;

use crate::contract::views;
use crate::domain::{Event, ItemKey, LocationEvent, ProductEvent};
use crate::ports::ReadModel;
use crate::ports::push::{Push, PushMessage};

/// Changes waiting to be pushed; beyond this the projection outruns the push and hints are dropped.
const QUEUE: usize = 8192;
/// Most changes one drain coalesces.
const DRAIN: usize = 1024;
/// Sends in flight at once (each is an HTTPS call in Azure).
const SENDS: usize = 8;

/// What changed.
enum Changed {
    Item(ItemKey),
    Product(ProductEvent),
    Location(LocationEvent),
}

/// What push has done since start, as `/api/health` reports it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PushCounts {
    pub sent: u64,
    pub failed: u64,
    pub dropped: u64,
}

/// The queue between the projection and the push port.
pub struct PushChanges {
    read_model: Arc<dyn ReadModel>,
    push: Arc<dyn Push>,
    queue: OnceLock<mpsc::Sender<Changed>>,
    sent: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
}

impl PushChanges {
    pub fn new(read_model: Arc<dyn ReadModel>, push: Arc<dyn Push>) -> Arc<Self> {
        Arc::new(Self {
            read_model,
            push,
            queue: OnceLock::new(),
            sent: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        })
    }

    /// Queues hints for events the read model now holds, if anyone listens. Never blocks: a full queue drops (and
    /// counts) them.
    /// Starts the draining task on first use (callers run on the tokio runtime).
    pub fn applied<'a>(self: &Arc<Self>, events: impl IntoIterator<Item = &'a Event>) {
        if !self.push.listening() {
            return;
        }
        let queue = self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(QUEUE);
            tokio::spawn(self.clone().drain(receiver));
            sender
        });
        for event in events {
            let changed = match event {
                Event::Stock(e) => Changed::Item(e.item.clone()),
                Event::Product(e) => Changed::Product(e.clone()),
                Event::Location(e) => Changed::Location(e.clone()),
            };
            if queue.try_send(changed).is_err() {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub fn counts(&self) -> PushCounts {
        PushCounts {
            sent: self.sent.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }

    async fn drain(self: Arc<Self>, mut receiver: mpsc::Receiver<Changed>) {
        let mut batch = Vec::with_capacity(DRAIN);
        while receiver.recv_many(&mut batch, DRAIN).await > 0 {
            let messages = self.messages(std::mem::take(&mut batch)).await;
            let this = &self;
            futures::stream::iter(messages)
                .for_each_concurrent(SENDS, |message| async move {
                    match this.push.send(&message).await {
                        Ok(()) => {
                            this.sent.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(error) => {
                            this.failed.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(%error, target = message.target, "push failed (a hint lost)");
                        }
                    }
                })
                .await;
        }
    }

    /// One message per changed item (read now, so it is as fresh as the read model) and per product event.
    async fn messages(&self, batch: Vec<Changed>) -> Vec<PushMessage> {
        let mut seen = HashSet::new();
        let mut messages = Vec::new();
        let as_of = match self.read_model.as_of().await {
            Ok(as_of) => as_of,
            Err(error) => {
                self.failed.fetch_add(batch.len() as u64, Ordering::Relaxed);
                tracing::warn!(%error, "push skipped: the read model cannot be read");
                return messages;
            }
        };
        for changed in batch {
            match changed {
                Changed::Product(product) => {
                    messages.push(PushMessage { target: "productChanged", argument: views::product(&product) })
                }
                Changed::Location(location) => messages
                    .push(PushMessage { target: "locationChanged", argument: views::location_changed(&location) }),
                Changed::Item(key) if seen.insert(key.clone()) => match self.read_model.item(&key).await {
                    Ok(Some(item)) => messages.push(PushMessage {
                        target: "stockChanged",
                        argument: serde_json::json!(views::single_item(&item, as_of)),
                    }),
                    Ok(None) => {}
                    Err(error) => {
                        self.failed.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(%error, %key, "push skipped: the item cannot be read");
                    }
                },
                Changed::Item(_) => {}
            }
        }
        messages
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use async_trait::async_trait;
    use tokio::sync::Mutex;

    use super::*;
    use crate::adapters::embedded::{InProcessCache, SqliteReadModel};
    use crate::application::changes::Changes;
    use crate::application::projection::{Outcome, Projection};
    use crate::contract::event_json::{self, Schema};

    use crate::ports::push::PushError;

    /// Records what it is asked to send; fails every send while `failing`; nobody listens while `deaf`.
    #[derive(Default)]
    struct Recording {
        sent: Mutex<Vec<PushMessage>>,
        failing: bool,
        deaf: bool,
    }

    #[async_trait]
    impl Push for Recording {
        async fn send(&self, message: &PushMessage) -> Result<(), PushError> {
            if self.failing {
                return Err(PushError::Refused("503 from the stand-in".into()));
            }
            self.sent.lock().await.push(message.clone());
            Ok(())
        }

        fn listening(&self) -> bool {
            !self.deaf
        }
    }

    use crate::domain::event::received;

    fn projection(dir: &tempfile::TempDir, push: Arc<dyn Push>) -> (Projection, Arc<PushChanges>) {
        let read_model: Arc<dyn ReadModel> = Arc::new(SqliteReadModel::open(&dir.path().join("read.db")).unwrap());
        let hints = PushChanges::new(read_model.clone(), push);
        let projection = Projection::new(read_model, Arc::new(InProcessCache::default()), Changes::default());
        (projection.with_push(hints.clone()), hints)
    }

    async fn eventually(what: &str, check: impl Fn() -> bool) {
        tokio::time::timeout(Duration::from_secs(10), async {
            while !check() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
    }

    #[tokio::test]
    async fn a_failing_push_never_fails_the_projection_nor_loses_the_event() {
        let dir = tempfile::tempdir().unwrap();
        let push = Arc::new(Recording { failing: true, ..Recording::default() });
        let (projection, hints) = projection(&dir, push);
        let event = received("apple-pie", 1);
        let outcomes = projection
            .handle_all(&[event_json::encode(&event, Schema::CloudEvents)])
            .await
            .expect("the projection succeeds");
        assert!(matches!(outcomes.as_slice(), [Outcome::Applied(_)]), "{outcomes:?}");
        eventually("the failure to be counted", || hints.counts().failed == 1).await;
        assert_eq!(hints.counts(), PushCounts { sent: 0, failed: 1, dropped: 0 });
    }

    #[tokio::test]
    async fn applied_events_become_one_stock_changed_per_item_as_get_shows_it_and_stale_ones_none() {
        let dir = tempfile::tempdir().unwrap();
        let push = Arc::new(Recording::default());
        let (projection, hints) = projection(&dir, push.clone());
        let first = received("apple-pie", 1);
        projection.handle_all(&[event_json::encode(&first, Schema::CloudEvents)]).await.unwrap();
        eventually("one message", || hints.counts().sent == 1).await;
        // The same event again is stale: nothing new to say.
        projection.handle_all(&[event_json::encode(&first, Schema::CloudEvents)]).await.unwrap();
        projection.handle_all(&[event_json::encode(&received("pecan-pie", 2), Schema::CloudEvents)]).await.unwrap();
        eventually("two messages", || hints.counts().sent == 2).await;
        let sent = push.sent.lock().await.clone();
        assert_eq!(sent.iter().map(|m| m.target).collect::<Vec<_>>(), ["stockChanged", "stockChanged"]);
        assert_eq!(sent[0].argument["sku"], "apple-pie");
        assert_eq!(sent[0].argument["quantity"], 1);
        assert!(sent[0].argument["asOf"].is_string());
        assert_eq!(sent[1].argument["sku"], "pecan-pie");
    }

    #[tokio::test]
    async fn with_nobody_listening_nothing_is_queued_read_or_sent() {
        let dir = tempfile::tempdir().unwrap();
        let push = Arc::new(Recording { deaf: true, ..Recording::default() });
        let (projection, hints) = projection(&dir, push.clone());
        projection.handle_all(&[event_json::encode(&received("apple-pie", 1), Schema::CloudEvents)]).await.unwrap();
        assert!(hints.queue.get().is_none(), "no drain task was even started");
        assert_eq!(hints.counts(), PushCounts::default());
        assert!(push.sent.lock().await.is_empty());
    }
}
