//! pieshop: a CQRS inventory system whose one binary is an Azure Functions custom handler, and runs standalone on
//! an embedded default. `README.md` is the tour; the guarantees are listed there with the tests that prove them.
//!
//! The modules from the bottom up, each importing only modules listed before it (outside its tests):
//!
//! - `domain`: identifiers, quantities, commands, events and the decisions between them; no I/O, no async.
//! - `ports`: the small traits the application needs from the world (write store, publisher and event sink,
//!   read model, answer cache, live push, and the dead-letter source the operator replays).
//! - `contract`: the wire format (command bodies, events, dead-letter blobs, JSON views) and its descriptions for
//!   OpenAPI.
//! - `telemetry`: logs, traces and metrics (the subscriber, W3C trace context, the instruments, OTLP and
//!   Application Insights export).
//! - `application`: the use cases over the ports: execute a command, the transfer saga, dispatch and relay,
//!   project events, answer queries and their waits, health, reconcile and rebuild, replay what Event Grid
//!   dead-lettered.
//! - `adapters`: the ports implemented on the embedded default (SQLite, in process) and on Azure (Cosmos DB,
//!   Event Grid, Elasticsearch, Redis, SignalR Service; dead letters in a directory or a Blob container). Only
//!   `wiring` knows them.
//! - `host`: the Functions host's listen rules and envelopes.
//! - `config`: settings from the environment, as plain values.
//! - `http`: the plumbing below the functions: problem+json, ETags, JSON bodies, function keys, the request log,
//!   and the readiness probe answered while the app is wired.
//! - `functions`: one thin file per Azure Function (parse, call the application, render), each with its routes.
//! - `api`: the router that merges the functions' routes, and the OpenAPI document.
//! - `wiring`: settings → adapters → use cases → router, the only module that knows every layer; `main.rs`, the
//!   operator commands and the tests build through it.

pub mod adapters;
pub mod api;
pub mod application;
pub mod config;
pub mod contract;
pub mod domain;
pub mod functions;
pub mod host;
pub mod http;
pub mod ports;
pub mod telemetry;
pub mod wiring;
