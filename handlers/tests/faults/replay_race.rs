//! The interleaving behind a failure scenario 1 can hit at random, forced deterministically: two copies of
//! one removal sent at once, where the second copy looks for the command's stored outcome before the first
//! commits, and loads the item after it did.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use pieshop::domain::StreamId;
use pieshop::ports::StoreError;
use pieshop::ports::write_store::Commit;
use pieshop::wiring;
use pieshop_testkit::faults::{FaultyStore, StoreHooks};
use pieshop_testkit::served::serve;
use serde_json::{Value, json};
use tokio::sync::watch;

/// Gates around the real store that force the race once armed: every load but the first waits until the
/// first commit is done, and that commit waits until the other copy has either looked up the command's
/// outcome (finding none) or asked to load the item, whichever the command function does first.
struct RaceGate {
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
impl StoreHooks for RaceGate {
    async fn load(&self, _stream: &StreamId) {
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
    }

    async fn outcome_looked_up(&self) {
        if self.armed.load(Ordering::SeqCst) {
            self.progress.send_modify(|(o, _)| *o += 1);
        }
    }

    async fn commit(&self, _commit: &Commit) -> Result<(), StoreError> {
        if self.armed.load(Ordering::SeqCst) && *self.commits.borrow() == 0 {
            wait_for(&self.progress, |(outcomes, loads)| *outcomes >= 2 || *loads >= 2).await;
        }
        Ok(())
    }

    async fn committed(&self) {
        if self.armed.load(Ordering::SeqCst) {
            self.commits.send_modify(|n| *n += 1);
        }
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
        armed: AtomicBool::new(false),
        progress: watch::channel((0, 0)).0,
        commits: watch::channel(0).0,
    });
    wiring.adapters.write_store =
        Arc::new(FaultyStore { inner: wiring.adapters.write_store.clone(), hooks: gate.clone() });
    let served = serve(wiring).await;
    let url = served.url("/api/commands");
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
