//! pieshop: a CQRS inventory system whose one binary is an Azure Functions custom handler, and runs standalone on
//! an embedded default. `README.md` is the tour; the guarantees are listed there with the tests that prove them.
//!
//! The layers, each depending only on those below it:
//!
//! - `domain`: identifiers, quantities, commands, events and the decisions between them; no I/O, no async.
//! - `ports`: the small traits the application needs from the world (write store, publisher and event sink,
//!   read model, answer cache, and the dead-letter source the operator replays).
//! - `application`: the use cases over the ports: execute a command, the transfer saga, dispatch and relay,
//!   project events, answer queries, reconcile and rebuild, replay what Event Grid dead-lettered.
//! - `adapters`: the ports implemented on the embedded default (SQLite, in process) and on Azure (Cosmos DB,
//!   Event Grid, Elasticsearch, Redis; dead letters in a directory or a Blob container); `contract`: the wire
//!   format (command bodies, events, dead-letter blobs, JSON views), and their descriptions for OpenAPI.
//! - transport: `functions` (one thin file per Azure Function), `http` (router, problem+json, ETags, keys, request
//!   log, the OpenAPI document) and `host` (the Functions host's listen rules and envelopes).
//! - `config` (settings from the environment) and `wiring` (settings → adapters → use cases → router): the only
//!   module that knows every layer; `main.rs`, the operator commands and the tests build through it.

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
