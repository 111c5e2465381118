//! Operator use cases (`handler verify | rebuild`), on whichever backend is configured: reconciling the read model
//! with the write model, and rebuilding it from the write model's events.

use std::collections::{BTreeMap, BTreeSet};

use crate::domain::{Aggregate, ItemState, LedgerRead, LocationState, StreamId, Timestamp};
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

/// One difference between the write model and the read model: an item, a product, or a total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// What differs: `store-1/apple-pie`, `product apple-pie`, `location store-1 total`, `sku apple-pie total`.
    pub subject: String,
    /// The write model's side (`missing` when only the read side has it).
    pub write: String,
    /// The read model's side (`missing` when it is missing there).
    pub read: String,
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: write model {}, read model {}", self.subject, self.write, self.read)
    }
}

/// What `verify` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    pub drift: Vec<Drift>,
    /// Items the read model has not caught up with yet, by events recorded after its `asOf`: not drift.
    pub in_flight: Vec<String>,
}

/// The operator use cases over one configuration's ports, for the scheduled `verify` function.
pub struct Operator {
    adapters: Adapters,
}

impl Operator {
    pub fn new(adapters: Adapters) -> Self {
        Self { adapters }
    }

    /// `verify`, logging every drift and setting the `pieshop.verify.drift` gauge (the daily timer's job).
    pub async fn scheduled_verify(&self) -> Result<Verification, OperatorError> {
        let verification = verify(&self.adapters).await?;
        for drift in &verification.drift {
            tracing::warn!(%drift, "verify: drift between write and read model");
        }
        let gauges = crate::telemetry::metrics::gauges();
        gauges.drift.store(verification.drift.len() as u64, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(drift = verification.drift.len(), in_flight = verification.in_flight.len(), "verify done");
        Ok(verification)
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

fn side(state: Option<(i64, u64)>) -> String {
    state.map_or("missing".to_owned(), |(q, v)| format!("quantity {q} at v{v}"))
}

/// Compares the write model with the read model as of the read model's `asOf`, and each item's on-hand with its
/// ledger (a `… ledger` drift: the state's side, then the ledger's): every item both ways, every
/// defined product's name and reorder level, every defined location's definition, and the summary's totals per
/// location and per sku. An item the read
/// model lags on only by events recorded after its `asOf` is in flight, not drift (delivery is asynchronous);
/// totals are compared only where no item differs (an item's drift is reported once, as itself).
pub async fn verify(adapters: &Adapters) -> Result<Verification, OperatorError> {
    let as_of = adapters.read_model.as_of().await?;
    let mut write = BTreeMap::new();
    let mut products = BTreeMap::new();
    let mut locations = Vec::new();
    let mut verification = Verification::default();
    for aggregate in adapters.write_store.aggregates().await? {
        match aggregate {
            Aggregate::Item(item) => {
                if let Some(drift) = ledger_drift(adapters, &item).await? {
                    verification.drift.push(drift);
                }
                write.insert(item.key.to_string(), (item.quantity.get(), item.version.0));
            }
            Aggregate::Product(product) => _ = products.insert(product.sku.to_string(), product),
            Aggregate::Location(location) => locations.push(location),
        }
    }
    verification.drift.extend(location_drift(adapters, &locations, as_of).await?);
    let read = read_items(adapters).await?;
    let streams: BTreeSet<&String> = write.keys().chain(read.keys()).collect();
    let differing: Vec<&String> =
        streams.into_iter().filter(|s| write.get(*s).copied() != read.get(*s).copied()).collect();
    let late = if differing.is_empty() { BTreeSet::new() } else { recorded_after(adapters, as_of).await? };
    let mut touched = BTreeSet::new();
    for stream in differing {
        let (w, r) = (write.get(stream).copied(), read.get(stream).copied());
        let (location, sku) = stream.split_once('/').unwrap_or((stream, ""));
        touched.extend([format!("location {location}"), format!("sku {sku}")]);
        // In flight: the write side is ahead, and the first version the read side lacks came after its asOf.
        let next_missing = r.map_or(1, |(_, v)| v + 1);
        if w.is_some_and(|(_, v)| v > r.map_or(0, |(_, v)| v)) && late.contains(&(stream.clone(), next_missing)) {
            verification.in_flight.push(stream.clone());
            continue;
        }
        verification.drift.push(Drift { subject: stream.clone(), write: side(w), read: side(r) });
    }
    let summary = adapters.read_model.summary().await?;
    for (sku, product) in &products {
        let describe = |name: &str, level: Option<u32>| format!("{name:?}, reorder level {level:?}");
        let written = describe(
            product.name.as_ref().map_or(sku.as_str(), |n| n.as_str()),
            product.reorder_level.map(|l| l.get()),
        );
        let shown = summary.products.iter().find(|p| p.sku.as_str() == sku);
        let shown = shown.map_or("missing".to_owned(), |p| describe(&p.name, p.reorder_level.map(|l| l.get())));
        if written != shown {
            verification.drift.push(Drift { subject: format!("product {sku}"), write: written, read: shown });
        }
    }
    let mut totals: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (stream, (quantity, _)) in &write {
        let (location, sku) = stream.split_once('/').unwrap_or((stream, ""));
        totals.entry(format!("location {location}")).or_default().0 += quantity;
        totals.entry(format!("sku {sku}")).or_default().0 += quantity;
    }
    for location in &summary.locations {
        totals.entry(format!("location {}", location.location)).or_default().1 = location.total;
    }
    for product in &summary.products {
        totals.entry(format!("sku {}", product.sku)).or_default().1 = product.total;
    }
    for (subject, (written, shown)) in totals {
        if written != shown && !touched.contains(&subject) {
            verification.drift.push(Drift {
                subject: format!("{subject} total"),
                write: written.to_string(),
                read: shown.to_string(),
            });
        }
    }
    Ok(verification)
}

/// Every defined location whose definition the read model shows otherwise, unless the event it lacks was recorded
/// after the read model's `asOf` (in flight).
async fn location_drift(
    adapters: &Adapters,
    written: &[LocationState],
    as_of: Option<Timestamp>,
) -> Result<Vec<Drift>, OperatorError> {
    let describe = |name: Option<&str>, kind: Option<&str>, retired: bool, version: u64| {
        format!("{name:?} ({}){} at v{version}", kind.unwrap_or("no kind"), if retired { ", retired" } else { "" })
    };
    let shown = adapters.read_model.locations().await?;
    let mut late = None;
    let mut drift = Vec::new();
    for location in written.iter().filter(|l| l.version.0 > 0) {
        let write = describe(
            location.name.as_ref().map(|n| n.as_str()),
            location.kind.map(|k| k.as_str()),
            location.retired,
            location.version.0,
        );
        let read = shown.iter().find(|v| v.location == location.location && v.version.is_some());
        let read_version = read.and_then(|v| v.version).map_or(0, |v| v.0);
        let read = read.map_or("missing".to_owned(), |v| {
            describe(v.name.as_deref(), v.kind.map(|k| k.as_str()), v.retired, read_version)
        });
        if write == read {
            continue;
        }
        if late.is_none() {
            late = Some(recorded_after(adapters, as_of).await?);
        }
        let stream = StreamId::Location(location.location.clone()).to_string();
        if late.as_ref().is_some_and(|late| late.contains(&(stream, read_version + 1))) {
            continue;
        }
        drift.push(Drift { subject: format!("location {} definition", location.location), write, read });
    }
    Ok(drift)
}

/// Whether an item's on-hand is what its ledger says (`base` plus every movement after the latest count); a
/// commit landing between the two reads (the state's version moved on) is not drift.
async fn ledger_drift(adapters: &Adapters, item: &ItemState) -> Result<Option<Drift>, StoreError> {
    if item.ledger.is_none() {
        return Ok(None);
    }
    let stream = StreamId::Item(item.key.clone());
    let sum = adapters.write_store.ledger_sum(&stream, LedgerRead { after: item.counted, through: None }).await?;
    if item.base + sum == item.quantity.get() {
        return Ok(None);
    }
    let now = adapters.write_store.load(&stream).await?.map(|s| s.aggregate.version());
    Ok((now == Some(item.version)).then(|| Drift {
        subject: format!("{} ledger", item.key),
        write: format!("quantity {} at v{}", item.quantity.get(), item.version.0),
        read: format!("ledger {} + {sum}", item.base),
    }))
}

/// (stream, version) of every event recorded after `as_of` (all of them when the read model is empty).
async fn recorded_after(adapters: &Adapters, as_of: Option<Timestamp>) -> Result<BTreeSet<(String, u64)>, StoreError> {
    let events = adapters.write_store.events().await?;
    Ok(events
        .iter()
        .filter(|e| as_of.is_none_or(|t| e.recorded_at() > t))
        .map(|e| (e.stream().to_string(), e.version().0))
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
