//! Adapters: each implements ports and nothing else. `embedded` is the default; the Azure adapters sit beside
//! it and are chosen one by one by configuration (see `crate::config`).

#[cfg(feature = "azure")]
pub mod azure_identity;
#[cfg(feature = "azure")]
pub mod cosmos;
#[cfg(feature = "azure")]
pub mod dead_letter_blob;
pub mod dead_letter_dir;
#[cfg(feature = "azure")]
pub mod elastic;
pub mod embedded;
#[cfg(feature = "azure")]
pub mod eventgrid;
#[cfg(feature = "azure")]
pub mod redis;
pub mod signalr_hub;
#[cfg(feature = "azure")]
pub mod signalr_service;
pub mod stream_cache;
