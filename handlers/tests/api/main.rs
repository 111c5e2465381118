//! API tests: the real router on a real socket, over the embedded adapters, driven like a client would.
//! One test binary (one link) with a module per area.

mod auth;
mod bad_input;
mod commands;
mod deadletters;
mod guarantees;
mod helpers;
mod host_protocol;
#[path = "../shared/models.rs"]
mod models;
mod operator;
mod queries;
mod records;
#[path = "../shared/shuffle.rs"]
mod shuffle;
