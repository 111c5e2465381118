//! API tests: the real router on a real socket, over the embedded adapters, driven like a client would.
//! One test binary (one link) with a module per area.

#[cfg(feature = "azure")]
mod alerts;
#[cfg(feature = "azure")]
mod application_insights;
mod auth;
#[cfg(feature = "azure")]
#[path = "../shared/azurite.rs"]
mod azurite;
mod bad_input;
mod commands;
mod deadletters;
mod guarantees;
mod helpers;
mod host_protocol;
#[cfg(feature = "azure")]
mod ingestion;
#[path = "../shared/models.rs"]
mod models;
mod openapi;
mod operator;
mod queries;
mod records;
#[path = "../shared/shuffle.rs"]
mod shuffle;
mod telemetry;
