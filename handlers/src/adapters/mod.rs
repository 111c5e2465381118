//! Adapters: each implements ports and nothing else. `embedded` is the default; the Azure adapters sit beside it.

pub mod embedded;
