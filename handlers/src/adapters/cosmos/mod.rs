//! The Azure Cosmos DB write store (`azure_data_cosmos`).

mod barcodes;
mod documents;
mod write_store;

pub use write_store::{CosmosSettings, CosmosWriteStore};
