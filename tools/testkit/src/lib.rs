//! pieshop's test kit: what every test tree shares, written once. The API tests, the port contract suites,
//! the fault suite (all in `handlers/tests`) and funchost's deployed shape use it as a dev-dependency.
//!
//! - [`served`]: the app in the test's own process, through `wiring`, on a free loopback port;
//! - [`process`]: the real binaries as child processes, on the embedded default, killed on drop;
//! - [`engines`]: which real engines a run has (`REDIS_URL`, `ELASTICSEARCH_URL`) and the `SKIPPED` /
//!   `PIESHOP_REQUIRE_ALL` rule;
//! - [`cosmos_emulator`] and [`azurite`]: the emulators (the Cosmos SDK's in-memory one, Azurite);
//! - [`faults`]: forwarding decorators of the ports that fail or hold calls as a test says;
//! - [`commands`] and [`fixtures`]: command bodies, and the Functions host's protocol envelopes;
//! - [`models`] and [`shuffle`]: how tests compare write models and redeliver out of order.

pub mod azurite;
pub mod commands;
pub mod cosmos_emulator;
pub mod engines;
pub mod faults;
pub mod fixtures;
pub mod models;
pub mod process;
pub mod served;
pub mod shuffle;
