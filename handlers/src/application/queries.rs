//! Answering queries (inventory, one item, the summary across locations, the locations, activity): from the read model, through
//! the answer cache, at once or after a wait. `waitForChange` holds a query until its answer differs from the one
//! a client holds; `minVersion` until the read model holds a client's own write. The cache is keyed by the cache's
//! generation, which the projection bumps before it acknowledges events, so no answer computed before an
//! acknowledged event is served after it (guarantee 6).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::changes::Changes;
use super::export::Exports;
use super::single_flight::SingleFlight;
use crate::contract::csv::CsvError;
use crate::contract::views;
use crate::domain::{EventId, ItemKey, LocationId, Sku, Timestamp};
use crate::ports::{ReadModel, ReadModelError, ResponseCache};

/// What the queries ask: the read model's own query types.
pub use crate::ports::read_model::{ActivityPosition, ActivityQuery, InventoryQuery};

/// Waiting queries re-read the read model this often even without a local change signal: in Azure the event may
/// have been applied by another instance.
const POLL_INTERVAL: Duration = Duration::from_millis(1000);

/// Why a query has no answer.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("no stock recorded for {0}")]
    NotFound(ItemKey),
    #[error(transparent)]
    ReadModel(#[from] ReadModelError),
    /// Views are plain structs of strings and numbers: only a bug gets here.
    #[error("answer could not be encoded: {0}")]
    Encoding(#[from] serde_json::Error),
    /// The same for an export's rows.
    #[error(transparent)]
    Csv(#[from] CsvError),
}

/// When to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wait {
    /// At once.
    Now,
    /// As soon as the answer's tag differs from `held` (the tag of the answer the client has), or after `timeout`.
    ForChange { held: String, timeout: Duration },
}

/// A query's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The answer's JSON text.
    Body(Bytes),
    /// The wait's timeout passed and the answer still has the tag the client holds.
    Unchanged { tag: String },
}

/// What a query for one item at a version answers.
#[derive(Debug)]
pub enum AtVersion {
    /// The read model holds the version asked for (or a newer one): the item's JSON text.
    Reached(Bytes),
    /// The timeout passed first: what the read model holds, or why it holds nothing.
    Stale(Result<Bytes, QueryError>),
}

/// An answer's tag: a hash of its text, so two equal answers always share it, quoted as an HTTP entity tag (the
/// ETag the query function sends is this).
pub fn tag(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// A `nextCursor` this server did not issue.
#[derive(Debug, thiserror::Error)]
#[error("is not a cursor this server issued")]
pub struct BadCursor;

/// `nextCursor` is the last (sku, location) of a page, base64url-encoded JSON: opaque to clients.
fn encode_cursor(sku: &Sku, location: &LocationId) -> String {
    URL_SAFE_NO_PAD.encode(json!([sku, location]).to_string())
}

/// The (sku, location) a page continues after, from the `nextCursor` of the page before.
pub fn decode_cursor(text: &str) -> Result<(Sku, LocationId), BadCursor> {
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| BadCursor)?;
    let (sku, location): (String, String) = serde_json::from_slice(&bytes).map_err(|_| BadCursor)?;
    Ok((Sku::parse(&sku).map_err(|_| BadCursor)?, LocationId::parse(&location).map_err(|_| BadCursor)?))
}

/// Activity's `nextCursor` is the position of a page's last event, tagged so that no other listing's cursor
/// reads as one: base64url-encoded JSON, opaque to clients.
fn encode_activity_cursor(position: &ActivityPosition) -> String {
    URL_SAFE_NO_PAD
        .encode(json!(["activity", position.recorded_at.to_string(), position.event_id.to_string()]).to_string())
}

/// The position an activity page continues from (older than it), from the `nextCursor` of the page before.
pub fn decode_activity_cursor(text: &str) -> Result<ActivityPosition, BadCursor> {
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| BadCursor)?;
    let (tag, recorded_at, event_id): (String, String, String) =
        serde_json::from_slice(&bytes).map_err(|_| BadCursor)?;
    if tag != "activity" {
        return Err(BadCursor);
    }
    Ok(ActivityPosition {
        recorded_at: Timestamp::parse(&recorded_at).map_err(|_| BadCursor)?,
        event_id: EventId::parse(&event_id).map_err(|_| BadCursor)?,
    })
}

/// An answer's JSON text.
fn encode(view: &impl serde::Serialize) -> Result<Bytes, QueryError> {
    Ok(Bytes::from(serde_json::to_vec(view)?))
}

/// Reads answers from the read model, through the cache.
pub struct QueryService {
    read_model: Arc<dyn ReadModel>,
    cache: Arc<dyn ResponseCache>,
    changes: Changes,
    flights: SingleFlight,
}

impl QueryService {
    pub fn new(read_model: Arc<dyn ReadModel>, cache: Arc<dyn ResponseCache>, changes: Changes) -> Self {
        Self { read_model, cache, changes, flights: SingleFlight::default() }
    }

    /// A page of items (`nextCursor` fetches the next).
    pub async fn inventory(&self, query: &InventoryQuery, wait: &Wait) -> Result<Answer, QueryError> {
        // Debug quotes the free text, so two queries never share a key.
        self.answer(&format!("inventory:{query:?}"), wait, || async {
            let page = self.read_model.inventory(query).await?;
            let as_of = self.read_model.as_of().await?;
            let next = page.items.last().filter(|_| page.more).map(|last| encode_cursor(&last.sku, &last.location));
            encode(&views::inventory(&page, next, as_of))
        })
        .await
    }

    /// Every product's total by location, and every location's total.
    pub async fn summary(&self, wait: &Wait) -> Result<Answer, QueryError> {
        self.answer("summary", wait, || async {
            let summary = self.read_model.summary().await?;
            let as_of = self.read_model.as_of().await?;
            encode(&views::summary(&summary, as_of))
        })
        .await
    }

    /// Every defined location, and every location holding items without being defined.
    pub async fn locations(&self, wait: &Wait) -> Result<Answer, QueryError> {
        self.answer("locations", wait, || async {
            let locations = self.read_model.locations().await?;
            let as_of = self.read_model.as_of().await?;
            encode(&views::locations(&locations, as_of))
        })
        .await
    }

    /// A page of events, newest first (`nextCursor` fetches the older ones).
    pub async fn activity(&self, query: &ActivityQuery, wait: &Wait) -> Result<Answer, QueryError> {
        self.answer(&format!("activity:{query:?}"), wait, || async {
            let page = ActivityQuery { limit: query.limit + 1, ..query.clone() };
            let mut events = self.read_model.activity(&page).await?;
            let more = events.len() > query.limit;
            events.truncate(query.limit);
            let next = events.last().filter(|_| more).map(|last| encode_activity_cursor(&ActivityPosition::of(last)));
            let as_of = self.read_model.as_of().await?;
            encode(&views::activity(&events, next, as_of))
        })
        .await
    }

    /// One item.
    pub async fn item(&self, key: &ItemKey, wait: &Wait) -> Result<Answer, QueryError> {
        self.answer(&format!("item:{key}"), wait, || self.item_body(key)).await
    }

    /// One item once the read model holds at least `min_version` of it, or what it holds when `timeout` passes
    /// first. Read past the cache: the caller waits for the read model itself.
    pub async fn item_at_version(
        &self,
        key: &ItemKey,
        min_version: u64,
        timeout: Duration,
    ) -> Result<AtVersion, QueryError> {
        let deadline = Instant::now() + timeout;
        let mut changed = self.changes.subscribe();
        loop {
            let item = self.read_model.item(key).await?;
            if item.as_ref().is_some_and(|i| i.version.0 >= min_version) {
                return Ok(AtVersion::Reached(self.item_body(key).await?));
            }
            tokio::select! {
                _ = changed.changed() => continue,
                _ = tokio::time::sleep(POLL_INTERVAL) => continue,
                _ = tokio::time::sleep_until(deadline) => {}
            }
            return Ok(AtVersion::Stale(self.item_body(key).await));
        }
    }

    /// The listings as CSV exports, read past the cache: an export is read page by page as it is sent.
    pub fn exports(&self) -> Exports {
        Exports::new(self.read_model.clone())
    }

    /// The `recordedAt` of the newest event the read model holds (`None` when empty).
    pub async fn as_of(&self) -> Result<Option<Timestamp>, ReadModelError> {
        self.read_model.as_of().await
    }

    async fn item_body(&self, key: &ItemKey) -> Result<Bytes, QueryError> {
        let item = self.read_model.item(key).await?.ok_or_else(|| QueryError::NotFound(key.clone()))?;
        let as_of = self.read_model.as_of().await?;
        encode(&views::single_item(&item, as_of))
    }

    /// The answer under cache key `key`, at once or (`Wait::ForChange`) as soon as its tag differs from the one
    /// given.
    async fn answer<F, Fut>(&self, key: &str, wait: &Wait, compute: F) -> Result<Answer, QueryError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Bytes, QueryError>>,
    {
        let Wait::ForChange { held, timeout } = wait else {
            return Ok(Answer::Body(self.cached(key, &compute).await?));
        };
        let deadline = Instant::now() + *timeout;
        // Subscribed before the first read, so a change between the read and the wait still wakes it.
        let mut changed = self.changes.subscribe();
        loop {
            let body = self.cached(key, &compute).await?;
            if tag(&body) != *held {
                return Ok(Answer::Body(body));
            }
            tokio::select! {
                _ = changed.changed() => {}
                _ = tokio::time::sleep(POLL_INTERVAL) => {}
                _ = tokio::time::sleep_until(deadline) => return Ok(Answer::Unchanged { tag: held.clone() }),
            }
        }
    }

    /// The answer for `key`, from the cache when this generation has it; on a miss, read once for every caller
    /// missing it at the same time (`single_flight`). With no cache generation (caching off or down) each caller
    /// reads for itself: nothing would bound how old a shared answer could be.
    async fn cached<F, Fut>(&self, key: &str, compute: F) -> Result<Bytes, QueryError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Bytes, QueryError>>,
    {
        let Some(generation) = self.cache.generation().await else {
            count_cache("miss");
            return compute().await;
        };
        let key = format!("{generation}:{key}");
        if let Some(hit) = self.cache.get(&key).await {
            count_cache("hit");
            return Ok(hit);
        }
        count_cache("miss");
        self.flights
            .run(&key, || async {
                let body = compute().await?;
                self.cache.put(&key, body.clone()).await;
                Ok(body)
            })
            .await
    }
}

/// `pieshop.cache.requests`: the hit ratio is hits over all.
fn count_cache(result: &'static str) {
    crate::telemetry::metrics::metrics().cache.add(1, &[opentelemetry::KeyValue::new("result", result)]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_as_the_place_it_was_issued_for_and_nothing_else_is_one() {
        let (sku, location) = (Sku::parse("apple-pie").unwrap(), LocationId::parse("store-1").unwrap());
        assert_eq!(decode_cursor(&encode_cursor(&sku, &location)).unwrap(), (sku, location));
        let not_ours = URL_SAFE_NO_PAD.encode(r#"["Apple Pie","store-1"]"#);
        for bad in ["", "not base64!", "e30", not_ours.as_str()] {
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_activity_cursor_reads_back_as_its_position_and_no_other_listings_cursor_is_one() {
        let position = ActivityPosition {
            recorded_at: Timestamp::parse("2026-01-15T10:30:00.000001Z").unwrap(),
            event_id: EventId::parse("6f1b3c9e-3f4a-4a53-9a6e-0b7f1f0c2d11").unwrap(),
        };
        assert_eq!(decode_activity_cursor(&encode_activity_cursor(&position)).unwrap(), position);
        let (sku, location) = (Sku::parse("apple-pie").unwrap(), LocationId::parse("store-1").unwrap());
        let inventory = encode_cursor(&sku, &location);
        assert!(decode_activity_cursor(&inventory).is_err(), "an inventory cursor is not an activity cursor");
        assert!(decode_cursor(&encode_activity_cursor(&position)).is_err(), "nor the other way round");
        let untagged = URL_SAFE_NO_PAD.encode(r#"["2026-01-15T10:30:00Z","6f1b3c9e-3f4a-4a53-9a6e-0b7f1f0c2d11"]"#);
        let bad_time = URL_SAFE_NO_PAD.encode(r#"["activity","yesterday","6f1b3c9e-3f4a-4a53-9a6e-0b7f1f0c2d11"]"#);
        for bad in ["", "not base64!", untagged.as_str(), bad_time.as_str()] {
            assert!(decode_activity_cursor(bad).is_err(), "{bad}");
        }
    }
}
