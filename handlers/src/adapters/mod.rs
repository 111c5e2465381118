//! Adapters: each implements ports and nothing else. `embedded` is the default; the Azure adapters sit beside
//! it and are chosen one by one by configuration (see `crate::config`).

pub mod azure_identity;
pub mod cosmos;
pub mod elastic;
pub mod embedded;
pub mod eventgrid;
pub mod redis;
