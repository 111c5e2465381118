//! API tests: the real router on a real socket, over the embedded adapters, driven like a client would.
//! One test binary (one link) with a module per area.

mod auth;
mod bad_input;
mod commands;
mod guarantees;
mod helpers;
mod host_protocol;
#[path = "../shared/models.rs"]
mod models;
mod openapi;
mod operator;
mod queries;
#[path = "../shared/shuffle.rs"]
mod shuffle;
