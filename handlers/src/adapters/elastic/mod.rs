//! The Elasticsearch read model (`elasticsearch` crate).

mod indices;
mod read_model;

pub use indices::{IndexKind, Indices};
pub use read_model::{ElasticReadModel, ElasticSettings};
