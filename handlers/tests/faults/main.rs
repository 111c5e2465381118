//! Seeded fault injection: each scenario drives the app under a fault chosen by a seed, then proves that the
//! write model and the read model are equal item by item (`operator::verify`, or `handler verify` for the
//! process scenario) and that every item holds exactly the stock the test computed from the commands it sent.
//!
//! Every scenario prints its seed first; `PIESHOP_FAULT_SEED=<seed> cargo test --test faults <name>` replays
//! the same commands and the same fault sequence (which request meets which fault still depends on how the
//! scheduler interleaves concurrent requests). Scenarios 1–4 run on the embedded adapters and on the Azure
//! ones (Cosmos DB in-memory emulator, Elasticsearch, Redis: `ELASTICSEARCH_URL`, `REDIS_URL`), which are
//! skipped with a `SKIPPED:` line when those are not set, unless `PIESHOP_REQUIRE_ALL` is.

mod contention;
mod harness;
mod idempotency;
mod ledger;
mod process_kill;
mod projection_faults;
mod publisher_outage;
mod replay_race;
mod seed;

/// One test per backend for a scenario written once, generic over the wiring.
#[macro_export]
macro_rules! on_every_backend {
    ($behaviour:ident, $scenario:path) => {
        mod $behaviour {
            use $crate::harness::Backend;

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn embedded() {
                $scenario(Backend::Embedded).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn azure() {
                $scenario(Backend::Azure).await
            }
        }
    };
}

// The kit's modules under the names the suites use (`crate::engines`, ...).
use pieshop_testkit::{cosmos_emulator, engines, models};
