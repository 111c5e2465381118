//! The write model as tests compare it: every item stream as (stream, quantity, version), sorted.

use pieshop::domain::Aggregate;
use pieshop::ports::WriteStore;

/// Every item stream of `store` as (stream, quantity, version), sorted.
pub async fn write_items(store: &dyn WriteStore) -> Vec<(String, i64, u64)> {
    let mut items: Vec<_> = store
        .aggregates()
        .await
        .expect("aggregates")
        .into_iter()
        .filter_map(|a| match a {
            Aggregate::Item(i) => Some((i.key.to_string(), i.quantity.get(), i.version.0)),
            Aggregate::Product(_) => None,
        })
        .collect();
    items.sort();
    items
}
