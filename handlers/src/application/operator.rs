//! Operator use cases (`handler verify | rebuild`), on whichever backend is configured: reconciling the read model
//! with the write model, and rebuilding it from the write model's events.

use std::collections::BTreeMap;

use crate::domain::Aggregate;
use crate::ports::read_model::InventoryQuery;
use crate::ports::{Adapters, ReadModelError, StoreError};

/// An operator command could not finish.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    ReadModel(#[from] ReadModelError),
}

/// One difference between the write model and the read model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    pub stream: String,
    /// `(quantity, version)` on the write side, or `None` when only the read side has it.
    pub write: Option<(i64, u64)>,
    /// `(quantity, version)` on the read side, or `None` when it is missing there.
    pub read: Option<(i64, u64)>,
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let side = |s: Option<(i64, u64)>| s.map_or("missing".to_owned(), |(q, v)| format!("quantity {q} at v{v}"));
        write!(f, "{}: write model {}, read model {}", self.stream, side(self.write), side(self.read))
    }
}

/// Every item of the read model, page by page.
async fn read_items(adapters: &Adapters) -> Result<BTreeMap<String, (i64, u64)>, ReadModelError> {
    let mut items = BTreeMap::new();
    let mut query = InventoryQuery { limit: 500, ..Default::default() };
    loop {
        let page = adapters.read_model.inventory(&query).await?;
        for item in &page.items {
            items.insert(item.key().to_string(), (item.quantity.get(), item.version.0));
        }
        match (page.more, page.items.last()) {
            (true, Some(last)) => query.after = Some((last.sku.clone(), last.location.clone())),
            _ => return Ok(items),
        }
    }
}

/// Compares every item of the write model with the read model, and the read model's items with the write
/// model's. An empty answer means no drift.
pub async fn verify(adapters: &Adapters) -> Result<Vec<Drift>, OperatorError> {
    let mut write = BTreeMap::new();
    for aggregate in adapters.write_store.aggregates().await? {
        if let Aggregate::Item(item) = aggregate {
            write.insert(item.key.to_string(), (item.quantity.get(), item.version.0));
        }
    }
    let read = read_items(adapters).await?;
    let streams: std::collections::BTreeSet<&String> = write.keys().chain(read.keys()).collect();
    Ok(streams
        .into_iter()
        .filter_map(|stream| {
            let (w, r) = (write.get(stream).copied(), read.get(stream).copied());
            (w != r).then(|| Drift { stream: stream.clone(), write: w, read: r })
        })
        .collect())
}

/// Rebuilds the read model from every event of the write model, swaps it in, then applies every event once
/// more so that whatever reached the old copy during the rebuild is in the new one too. Returns the number
/// of events replayed.
pub async fn rebuild(adapters: &Adapters) -> Result<usize, OperatorError> {
    let events = adapters.write_store.events().await?;
    adapters.read_model.rebuild(&events).await?;
    let events = adapters.write_store.events().await?;
    for chunk in events.chunks(500) {
        adapters.read_model.apply_batch(chunk).await?;
    }
    // Answers cached from the old copy must not outlive it.
    if let Err(error) = adapters.cache.invalidate().await {
        tracing::warn!(%error, "cache not invalidated after the rebuild; entries expire on their own");
    }
    Ok(events.len())
}
