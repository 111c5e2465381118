//! The interleaving behind a failure scenario 1 can hit at random, forced deterministically: two copies of
//! one removal sent at once, where the second copy looks for the command's stored outcome before the first
//! commits, and loads the item after it did.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use pieshop::domain::{Aggregate, CommandId, Event, LedgerRead, PendingTransfer, StreamId, Timestamp, TransferId};
use pieshop::ports::write_store::{CommandOutcome, Commit, CommitResult, EventRef, Snapshot};
use pieshop::ports::{CommandStore, Outbox, Replay, Retention, StoreError, Transfers, WriteStore};
use pieshop::wiring;
use serde_json::{Value, json};
use tokio::sync::watch;

/// The real store, with gates that force the race once armed: every load but the first waits until the
/// first commit is done, and that commit waits until the other copy has either looked up the command's
/// outcome (finding none) or asked to load the item, whichever the command function does first.
struct RaceGate {
    inner: Arc<dyn WriteStore>,
    armed: AtomicBool,
    /// (outcome look-ups finished, loads asked for) since armed.
    progress: watch::Sender<(usize, usize)>,
    commits: watch::Sender<usize>,
}

/// Waits for a gate; gives up after a while so that code which no longer takes this path cannot hang.
async fn wait_for<T>(gate: &watch::Sender<T>, open: impl FnMut(&T) -> bool) {
    let _ = tokio::time::timeout(Duration::from_secs(5), gate.subscribe().wait_for(open)).await;
}

#[async_trait]
impl CommandStore for RaceGate {
    async fn load(&self, stream: &StreamId) -> Result<Option<Snapshot>, StoreError> {
        if self.armed.load(Ordering::SeqCst) {
            let mut loads = 0;
            self.progress.send_modify(|(_, l)| {
                *l += 1;
                loads = *l;
            });
            if loads > 1 {
                wait_for(&self.commits, |c| *c >= 1).await;
            }
        }
        self.inner.load(stream).await
    }

    fn forget(&self, stream: &StreamId) {
        self.inner.forget(stream)
    }

    async fn outcome(&self, stream: &StreamId, command: CommandId) -> Result<Option<CommandOutcome>, StoreError> {
        let outcome = self.inner.outcome(stream, command).await;
        if self.armed.load(Ordering::SeqCst) {
            self.progress.send_modify(|(o, _)| *o += 1);
        }
        outcome
    }

    async fn commit(&self, commit: Commit) -> Result<CommitResult, StoreError> {
        if !self.armed.load(Ordering::SeqCst) {
            return self.inner.commit(commit).await;
        }
        if *self.commits.borrow() == 0 {
            wait_for(&self.progress, |(outcomes, loads)| *outcomes >= 2 || *loads >= 2).await;
        }
        let result = self.inner.commit(commit).await;
        self.commits.send_modify(|n| *n += 1);
        result
    }

    async fn ledger_sum(&self, stream: &StreamId, read: LedgerRead) -> Result<i64, StoreError> {
        self.inner.ledger_sum(stream, read).await
    }
}

#[async_trait]
impl Outbox for RaceGate {
    async fn unpublished(&self, before: Timestamp, limit: usize) -> Result<Vec<Event>, StoreError> {
        self.inner.unpublished(before, limit).await
    }

    async fn mark_published(&self, events: &[EventRef]) -> Result<(), StoreError> {
        self.inner.mark_published(events).await
    }
}

#[async_trait]
impl Transfers for RaceGate {
    async fn pending_transfers(&self, before: Timestamp, limit: usize) -> Result<Vec<PendingTransfer>, StoreError> {
        self.inner.pending_transfers(before, limit).await
    }

    async fn finish_transfer(&self, source: &StreamId, transfer: TransferId) -> Result<(), StoreError> {
        self.inner.finish_transfer(source, transfer).await
    }
}

#[async_trait]
impl Replay for RaceGate {
    async fn aggregates(&self) -> Result<Vec<Aggregate>, StoreError> {
        self.inner.aggregates().await
    }

    async fn events(&self) -> Result<Vec<Event>, StoreError> {
        self.inner.events().await
    }
}

#[async_trait]
impl Retention for RaceGate {
    async fn expire_markers(&self, before: Timestamp, limit: usize) -> Result<usize, StoreError> {
        self.inner.expire_markers(before, limit).await
    }
}

/// Guarantee 3 ("a retry with the same id returns the original outcome") when the retry races the
/// original: the copy that loses must be answered as a replay of the removal, not refused for want of the
/// stock the removal itself took.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_concurrent_copy_of_a_removal_that_finds_the_stock_gone_is_answered_as_a_replay() {
    let dir = tempfile::tempdir().unwrap();
    let mut wiring = wiring::embedded(dir.path()).unwrap();
    let gate = Arc::new(RaceGate {
        inner: wiring.adapters.write_store.clone(),
        armed: AtomicBool::new(false),
        progress: watch::channel((0, 0)).0,
        commits: watch::channel(0).0,
    });
    wiring.adapters.write_store = gate.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/commands", listener.local_addr().unwrap());
    tokio::spawn(wiring::serve(listener, wiring.app(Duration::ZERO), std::future::pending()));
    let http = reqwest::Client::new();
    let send = |body: Value| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let response = http.post(url).json(&body).send().await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap())
        }
    };
    let receive = json!({"commandId": uuid::Uuid::new_v4().to_string(), "type": "receive", "location": "van", "sku": "pork-pie", "quantity": 5});
    assert_eq!(send(receive).await.0, 200);

    gate.armed.store(true, Ordering::SeqCst);
    let remove = json!({"commandId": uuid::Uuid::new_v4().to_string(), "type": "remove", "location": "van", "sku": "pork-pie",
                        "quantity": 5, "reason": "sold"});
    let (first, second) = tokio::join!(send(remove.clone()), send(remove));
    gate.armed.store(false, Ordering::SeqCst);

    let mut statuses = [(first.0, first.1["status"].clone()), (second.0, second.1["status"].clone())];
    statuses.sort_by_key(|(code, status)| (*code, status.to_string()));
    assert_eq!(
        statuses,
        [(200, json!("applied")), (200, json!("duplicate"))],
        "one copy applied, the other a replay of it; got {} and {}",
        first.1,
        second.1
    );
}
