//! Contract suites: every adapter of a port passes the same cases. Adapters whose engine is not reachable
//! (no `ELASTICSEARCH_URL` / `REDIS_URL`) are skipped with a message, unless `PIESHOP_REQUIRE_ALL` is set,
//! in which case that is a failure. `.ci/run` starts the engines and sets it.

#[path = "../shared/azurite.rs"]
mod azurite;
mod cache;
#[path = "../shared/cosmos_emulator.rs"]
mod cosmos_emulator;
mod cosmos_faults;
mod dead_letters;
mod embedded_migration;
mod end_to_end;
#[path = "../shared/engines.rs"]
mod engines;
mod event_grid;
#[path = "../shared/models.rs"]
mod models;
mod read_model;
mod records;
#[path = "../shared/shuffle.rs"]
mod shuffle;
mod support;
mod write_store;
