//! Port contract suites: every adapter of a port passes the same cases. Adapters whose engine is not reachable
//! (no `ELASTICSEARCH_URL` / `REDIS_URL`) are skipped with a message, unless `PIESHOP_REQUIRE_ALL` is set,
//! in which case that is a failure. `.ci/run` starts the engines and sets it.

mod barcodes;
mod cache;
mod cosmos_faults;
mod dead_letters;
mod embedded_migration;
mod end_to_end;
mod event_grid;
mod read_model;
mod records;
mod support;
mod write_store;

// The kit's modules under the names the suites use (`crate::engines`, ...).
use pieshop_testkit::{azurite, cosmos_emulator, engines, models, shuffle};
