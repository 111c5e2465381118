//! API tests: the real router on a real socket, over the embedded adapters, driven like a client would.
//! One test binary (one link) with a module per area.

#[cfg(feature = "azure")]
mod alerts;
#[cfg(feature = "azure")]
mod application_insights;
mod auth;
mod bad_input;
mod barcodes;
mod caller;
mod commands;
mod deadletters;
mod export_memory;
mod guarantees;
mod helpers;
mod history;
mod host_protocol;
#[cfg(feature = "azure")]
mod ingestion;
mod locations;
mod openapi;
mod operator;
mod queries;
mod records;
mod telemetry;

// The kit's modules under the names the suites use (`crate::models`, ...).
#[cfg(feature = "azure")]
use pieshop_testkit::azurite;
use pieshop_testkit::{models, shuffle};
