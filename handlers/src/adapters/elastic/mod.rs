//! The Elasticsearch read model (`elasticsearch` crate).

mod indices;
mod read_model;

pub use indices::{Indices, IndexKind};
pub use read_model::{ElasticReadModel, ElasticSettings};
