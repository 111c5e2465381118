//! Offline records on both write stores (`docs/API.md`, Offline records): any set of records, delivered in any order,
//! grouped into batches in any way and retried, ends in the same stock, flags and read model (versions aside) as
//! delivering them one by one in `occurredAt` order. Seeded cases, so a failure names the seed that reproduces it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pieshop::adapters::embedded::SqliteReadModel;
use pieshop::domain::Aggregate;
use pieshop::ports::WriteStore;
use pieshop::ports::cache::NoCache;
use pieshop_testkit::served::{Served, in_process, serve};
use serde_json::{Value, json};

use crate::shuffle::shuffled;

/// A 64-bit LCG: the cases are the same on every machine.
struct Seeded(u64);

impl Seeded {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

const LOCATIONS: [&str; 3] = ["store-1", "van", "cold-room"];

/// Between 6 and 24 records on one sku at three locations, each at a random second of one morning.
fn records(seed: u64) -> Vec<Value> {
    let mut rng = Seeded(seed);
    let n = 6 + rng.below(19);
    (0..n)
        .map(|_| {
            let at = format!("2026-03-02T{:02}:{:02}:{:02}Z", 6 + rng.below(6), rng.below(60), rng.below(60));
            let location = LOCATIONS[rng.below(3) as usize];
            let quantity = 1 + rng.below(20);
            let mut record = match rng.below(4) {
                0 => json!({"type": "receive", "location": location, "quantity": quantity}),
                1 => json!({"type": "remove", "location": location, "quantity": quantity, "reason": "sold"}),
                2 => json!({"type": "count", "location": location, "quantity": rng.below(30)}),
                _ => {
                    let to = LOCATIONS[(LOCATIONS.iter().position(|l| *l == location).unwrap() + 1) % 3];
                    json!({"type": "transfer", "from": location, "to": to, "quantity": quantity})
                }
            };
            record["commandId"] = json!(uuid::Uuid::from_u64_pair(seed, rng.below(u64::MAX)).to_string());
            record["sku"] = json!("apple-pie");
            record["occurredAt"] = json!(at);
            record
        })
        .collect()
}

/// One app on `store`, with an embedded read model fed in-process through the real projection.
struct Shop {
    app: Served,
    http: reqwest::Client,
    store: Arc<dyn WriteStore>,
    _read_dir: tempfile::TempDir,
}

impl Shop {
    async fn open(store: Arc<dyn WriteStore>) -> Shop {
        let dir = tempfile::tempdir().unwrap();
        let read_model = Arc::new(SqliteReadModel::open(&dir.path().join("read.db")).unwrap());
        let app = serve(in_process(store.clone(), read_model, Arc::new(NoCache), "test")).await;
        Shop { app, http: reqwest::Client::new(), store, _read_dir: dir }
    }

    /// Sends one batch; every command in it must be recorded (records are never refused).
    async fn batch(&self, commands: &[Value]) {
        let response = self.http.post(self.app.url("/api/commands/batch")).json(&json!({"commands": commands})).send();
        let body: Value = response.await.unwrap().json().await.unwrap();
        for result in body["results"].as_array().unwrap() {
            let status = result["status"].as_str().unwrap();
            assert!(
                ["applied", "adjusted", "superseded", "absorbed", "duplicate"].contains(&status),
                "a record was refused: {result}"
            );
        }
    }

    /// Every item of the write model: (item, quantity).
    async fn write_side(&self) -> Vec<(String, i64)> {
        let mut items: Vec<_> = (self.store.aggregates().await.unwrap().into_iter())
            .filter_map(|a| match a {
                Aggregate::Item(item) => Some((item.key.to_string(), item.quantity.get())),
                Aggregate::Product(_) | Aggregate::Location(_) => None,
            })
            .collect();
        items.sort();
        items
    }

    /// Every item of the read model, versions aside: (item, quantity, needsCount).
    async fn read_side(&self) -> Vec<(String, i64, bool)> {
        let url = self.app.url("/api/inventory?limit=500");
        let body: Value = self.http.get(url).send().await.unwrap().json().await.unwrap();
        let mut items: Vec<_> = (body["items"].as_array().unwrap().iter())
            .map(|i| {
                let key = format!("{}/{}", i["location"].as_str().unwrap(), i["sku"].as_str().unwrap());
                (key, i["quantity"].as_i64().unwrap(), i["needsCount"].as_bool().unwrap())
            })
            .collect();
        items.sort();
        items
    }

    /// The read model once it has caught up with the write model (polled, with a deadline).
    async fn settled(&self) -> Vec<(String, i64, bool)> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let write = self.write_side().await;
            let read = self.read_side().await;
            let matches = read.iter().map(|(k, q, _)| (k.clone(), *q)).collect::<Vec<_>>() == write;
            if matches {
                for (item, quantity, needs_count) in &read {
                    assert_eq!(*needs_count, *quantity < 0, "{item}: needsCount is quantity < 0");
                }
                return read;
            }
            assert!(Instant::now() < deadline, "the read model never caught up: write {write:?}, read {read:?}");
            tokio::time::sleep(Duration::from_millis(20)).await; // polling a condition, not waiting for a time
        }
    }
}

/// Runs `cases` seeds against fresh stores made by `make`.
pub async fn any_order_and_batching_gives_the_same_stock<F, Fut>(cases: u64, make: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = (Arc<dyn WriteStore>, Option<tempfile::TempDir>)>,
{
    for seed in 1..=cases {
        let records = records(seed);
        let mut in_time_order = records.clone();
        in_time_order.sort_by(|a, b| {
            (a["occurredAt"].as_str(), a["commandId"].as_str())
                .cmp(&(b["occurredAt"].as_str(), b["commandId"].as_str()))
        });
        let (store, _guard) = make().await;
        let reference = Shop::open(store).await;
        for record in &in_time_order {
            reference.batch(std::slice::from_ref(record)).await;
        }
        let expected = reference.settled().await;

        let (store, _guard2) = make().await;
        let shop = Shop::open(store).await;
        let mut rng = Seeded(seed ^ 0x9e37_79b9_7f4a_7c15);
        let mut arriving = shuffled(&records, seed);
        while !arriving.is_empty() {
            let size = (1 + rng.below(6) as usize).min(arriving.len());
            let batch: Vec<Value> = arriving.drain(..size).collect();
            shop.batch(&batch).await;
            if rng.below(3) == 0 {
                shop.batch(&batch).await; // a scanner that never saw the answer sends the same batch again
            }
        }
        assert_eq!(shop.settled().await, expected, "seed {seed}: records {records:#?}");
    }
}

macro_rules! records_contract {
    ($name:ident, $cases:expr, $make:expr) => {
        #[tokio::test]
        async fn $name() {
            any_order_and_batching_gives_the_same_stock($cases, || async { $make }).await;
        }
    };
}

records_contract!(sqlite_any_order_and_batching_gives_the_same_stock, 40, {
    let (store, dir) = crate::support::sqlite_store();
    (store as Arc<dyn WriteStore>, Some(dir))
});
records_contract!(cosmos_any_order_and_batching_gives_the_same_stock, 12, {
    let store = crate::support::cosmos_store().await;
    (store as Arc<dyn WriteStore>, None::<tempfile::TempDir>)
});

/// Past 10,000 uncounted movements (where states once folded their history and refused a count before it), the
/// same records in two shuffled orders and batchings give the stock a model computes: the latest count, plus
/// every movement after it. Its last arrival may be a count before all of them; another lands among them.
#[tokio::test]
async fn sqlite_past_ten_thousand_movements_any_order_gives_the_same_stock() {
    const MOVEMENTS: u64 = 10_050;
    let at = |second: u64| format!("2026-03-02T{:02}:{:02}:{:02}Z", 6 + second / 3600, second / 60 % 60, second % 60);
    let mut rng = Seeded(7);
    let mut records: Vec<Value> = (0..MOVEMENTS)
        .map(|second| {
            let quantity = 1 + rng.below(3);
            match rng.below(3) {
                0 => json!({"type": "remove", "quantity": quantity, "reason": "sold", "occurredAt": at(second)}),
                _ => json!({"type": "receive", "quantity": quantity, "occurredAt": at(second)}),
            }
        })
        .collect();
    let middle = MOVEMENTS / 2;
    let after_middle: i64 = (records[middle as usize..].iter())
        .map(|r| r["quantity"].as_i64().unwrap() * if r["type"] == "remove" { -1 } else { 1 })
        .sum();
    records.push(json!({"type": "count", "quantity": 40, "occurredAt": "2026-03-02T05:00:00Z"}));
    records.push(json!({"type": "count", "quantity": 25, "occurredAt": format!("{}.5Z", &at(middle - 1)[..19])}));
    for (n, record) in records.iter_mut().enumerate() {
        record["commandId"] = json!(uuid::Uuid::from_u64_pair(7, n as u64).to_string());
        record["location"] = json!("van");
        record["sku"] = json!("apple-pie");
    }
    let expected = 25 + after_middle;
    for seed in [1, 2] {
        let (store, _dir) = crate::support::sqlite_store();
        let shop = Shop::open(store).await;
        let mut arriving = shuffled(&records, seed);
        if seed == 1 {
            // The count before everything arrives last of all.
            let early = arriving.iter().position(|r| r["occurredAt"] == "2026-03-02T05:00:00Z").unwrap();
            let count = arriving.remove(early);
            arriving.push(count);
        }
        for batch in arriving.chunks(300 + 100 * seed as usize) {
            shop.batch(batch).await;
        }
        assert_eq!(shop.write_side().await, vec![("van/apple-pie".to_string(), expected)], "order {seed}");
    }
}
