//! pieshop: a CQRS inventory system whose one binary is an Azure Functions custom handler, and runs
//! standalone on an embedded default. See `README.md` for the tour and `shared/DESIGN.md` for the guarantees.

pub mod adapters;
pub mod app;
pub mod changes;
pub mod config;
pub mod contract;
pub mod domain;
pub mod functions;
pub mod host;
pub mod http;
pub mod operator;
pub mod ports;
