//! The read model on Elasticsearch. Items, products and locations are written with `version_type=external`, so the
//! engine itself refuses a stale or duplicate event (409 = acknowledged and ignored); activity documents are
//! created once per event id. Every write is one `_bulk` that waits for refresh, so an acknowledged event is
//! visible to every query.
//!
//! Nothing here touches the cluster until it is first used: an instance must start, answer the host's readiness
//! probe and take commands while Elasticsearch is slow or down (queries then answer 503, projections are
//! delivered again), so the aliases are made sure of on first use, not at connect.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use elasticsearch::auth::Credentials;
use elasticsearch::http::response::Response;
use elasticsearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use elasticsearch::indices::{
    IndicesCreateParts, IndicesDeleteParts, IndicesExistsAliasParts, IndicesGetAliasParts, IndicesPutMappingParts,
    IndicesRefreshParts,
};
use elasticsearch::params::Refresh;
use elasticsearch::{BulkParts, Elasticsearch, GetParts, SearchParts};
use http::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};

use super::indices::{IndexKind, Indices};
use crate::contract::event_json;
use crate::domain::LocationKind;
use crate::domain::Version;
use crate::domain::{
    Event, EventKind, Gtin, ItemKey, LocationId, Quantity, Sku, Stock, StockEvent, Timestamp, TransferId,
};
use crate::ports::read_model::LocationView;
use crate::ports::read_model::{ActivityQuery, Applied, InventoryPage, InventoryQuery, ItemView, LocationTotal};
use crate::ports::read_model::{InTransit, MAX_IN_TRANSIT, ProductTotal, Summary};
use crate::ports::{Cause, ReadModel, ReadModelError};

/// Most products and locations one answer covers (terms aggregations and product lookups).
const MAX_TERMS: usize = 10_000;

/// How to reach the cluster.
#[derive(Debug, Clone)]
pub struct ElasticSettings {
    pub url: String,
    /// An encoded API key (`ELASTICSEARCH_API_KEY`); none for a local unsecured cluster.
    pub api_key: Option<azure_core::credentials::Secret>,
    pub index_prefix: String,
}

/// After making sure of the aliases failed, calls fail at once for this long instead of each waiting out the
/// cluster's timeout again behind the one that is trying (a hung cluster would otherwise queue every query).
const RETRY_INDICES_AFTER: Duration = Duration::from_secs(1);

/// How long a projection's write (its `_bulk` and refresh) may take. Queries keep the client's 10 s; a write is
/// waited for nearly as long as Event Grid waits for the delivery (30 s): one abandoned at 10 s fails the delivery,
/// which Event Grid retries only on its schedule (10 s, 30 s, 1 min, 5 min, ...), while the abandoned `_bulk`
/// still runs in the cluster, so a slow cluster was sent each write again on top of the first (the fault run saw
/// thousands of such timeouts and lags of 30-50 s: docs/PERFORMANCE.md).
const WRITE_TIMEOUT: Duration = Duration::from_secs(25);

/// The read model port on Elasticsearch.
#[derive(Clone)]
pub struct ElasticReadModel {
    client: Elasticsearch,
    indices: Indices,
    aliases: Arc<Aliases>,
}

/// Whether every alias is known to exist (made sure of once per process), and why the last try failed.
#[derive(Default)]
struct Aliases {
    ready: AtomicBool,
    last_failure: tokio::sync::Mutex<Option<(Instant, String)>>,
}

fn unavailable(error: impl Into<Cause>) -> ReadModelError {
    ReadModelError::Unavailable(error.into())
}

fn corrupt(error: impl Into<Cause>) -> ReadModelError {
    ReadModelError::Corrupt(error.into())
}

/// The body of a successful answer; throttling and server errors are "unavailable", anything else a bug.
async fn body(response: Response) -> Result<Value, ReadModelError> {
    let status = response.status_code();
    if status.is_success() {
        return response.json::<Value>().await.map_err(unavailable);
    }
    let text = response.text().await.unwrap_or_default();
    let detail = format!("Elasticsearch answered {status}: {}", text.chars().take(300).collect::<String>());
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        Err(unavailable(detail))
    } else {
        Err(corrupt(detail))
    }
}

fn item_id(key: &ItemKey) -> String {
    // `~` cannot occur in a location or sku, and needs no escaping in a URL.
    format!("{}~{}", key.location, key.sku)
}

/// A sku's words for full-text search (`apple-pie` → `apple pie`).
fn sku_words(sku: &Sku) -> String {
    sku.as_str().replace(['-', '.', '_'], " ")
}

/// What a product contributes to an item's view and the summary.
#[derive(Debug, Clone, Default)]
struct ProductInfo {
    name: Option<String>,
    reorder_level: Option<Quantity>,
    barcodes: Vec<Gtin>,
}

fn quantity_of(value: &Value) -> Option<Quantity> {
    value.as_u64().and_then(|n| u32::try_from(n).ok()).and_then(|n| Quantity::new(n).ok())
}

fn item_view(source: &Value, products: &HashMap<String, ProductInfo>) -> Result<ItemView, ReadModelError> {
    let text = |field: &str| source[field].as_str().ok_or_else(|| corrupt(format!("item without {field}")));
    let sku = Sku::parse(text("sku")?).map_err(corrupt)?;
    let product = products.get(sku.as_str()).cloned().unwrap_or_default();
    Ok(ItemView {
        location: LocationId::parse(text("location")?).map_err(corrupt)?,
        name: product.name.unwrap_or_else(|| sku.to_string()),
        sku,
        quantity: Stock(source["quantity"].as_i64().ok_or_else(|| corrupt("item quantity"))?),
        version: Version(source["version"].as_u64().ok_or_else(|| corrupt("item version"))?),
        reorder_level: product.reorder_level,
        updated_at: Timestamp::parse(text("updatedAt")?).map_err(corrupt)?,
    })
}

/// The activity log's document for an event; none for a location's events, which it does not list.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ActivityDocument<'a, E: Serialize> {
    event_id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    location: Option<&'a LocationId>,
    sku: &'a Sku,
    recorded_at: String,
    event: E,
}

fn activity_document(event: &Event) -> Option<ActivityDocument<'_, impl Serialize + '_>> {
    let (location, sku) = match event {
        Event::Stock(e) => (Some(&e.item.location), &e.item.sku),
        Event::Product(e) => (None, &e.sku),
        Event::Location(_) => return None,
    };
    Some(ActivityDocument {
        event_id: event.id().to_string(),
        kind: event.kind().type_name(),
        location,
        sku,
        recorded_at: event.recorded_at().to_string(),
        event: event_json::cloud_event(event),
    })
}

/// The versioned document an event writes, serialized as it is (no `Value` in between).
#[derive(Serialize)]
#[serde(untagged)]
enum VersionedDocument<'a> {
    #[serde(rename_all = "camelCase")]
    Item {
        location: &'a LocationId,
        sku: &'a Sku,
        sku_words: String,
        quantity: Stock,
        version: Version,
        updated_at: String,
    },
    #[serde(rename_all = "camelCase")]
    Product {
        sku: &'a Sku,
        name: &'a str,
        sku_words: String,
        category: &'a Option<String>,
        reorder_level: Option<Quantity>,
        version: Version,
        barcodes: &'a [Gtin],
        gtins: Vec<String>,
    },
    Location {
        location: &'a LocationId,
        name: &'a str,
        kind: &'static str,
        retired: bool,
        version: Version,
    },
}

/// The versioned document an event writes: which index, its id, the external version, and the body.
fn versioned_document(event: &Event) -> (IndexKind, String, Version, VersionedDocument<'_>) {
    match event {
        Event::Stock(e) => {
            let doc = VersionedDocument::Item {
                location: &e.item.location,
                sku: &e.item.sku,
                sku_words: sku_words(&e.item.sku),
                quantity: e.quantity,
                version: e.version,
                updated_at: e.recorded_at.to_string(),
            };
            (IndexKind::Items, item_id(&e.item), e.version, doc)
        }
        Event::Product(e) => {
            let doc = VersionedDocument::Product {
                sku: &e.sku,
                name: e.name.as_str(),
                sku_words: sku_words(&e.sku),
                category: &e.category,
                reorder_level: e.reorder_level,
                version: e.version,
                barcodes: &e.barcodes,
                gtins: e.barcodes.iter().map(Gtin::key).collect(),
            };
            (IndexKind::Products, e.sku.to_string(), e.version, doc)
        }
        Event::Location(e) => {
            let doc = VersionedDocument::Location {
                location: &e.location,
                name: e.name.as_str(),
                kind: e.kind.as_str(),
                retired: e.retired,
                version: e.version,
            };
            (IndexKind::Locations, e.location.to_string(), e.version, doc)
        }
    }
}

/// A `_bulk` action line.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum Action<'a> {
    Create {
        #[serde(rename = "_index")]
        index: &'a str,
        #[serde(rename = "_id")]
        id: String,
    },
    Index {
        #[serde(rename = "_index")]
        index: &'a str,
        #[serde(rename = "_id")]
        id: String,
        version: Version,
        version_type: &'static str,
    },
    Update {
        #[serde(rename = "_index")]
        index: &'a str,
        #[serde(rename = "_id")]
        id: String,
        retry_on_conflict: u32,
    },
}

/// One `_bulk` request's NDJSON, each line serialized straight into it: building a `serde_json::Value` per
/// document, serializing and dropping it took most of the projection's CPU (docs/PERFORMANCE.md, eighth round).
#[derive(Default)]
struct BulkBody(Vec<u8>);

impl BulkBody {
    fn line(&mut self, line: &impl Serialize) {
        serde_json::to_writer(&mut self.0, line).expect("a document always serializes");
        self.0.push(b'\n');
    }
}

/// The partial document a transfer's half merges into its transfer's document (`IndexKind::Transfers`): each
/// half sets only its own fields, so any order and any number of deliveries end the same.
fn transfer_update(e: &StockEvent) -> Option<(String, Value)> {
    let leg = e.transfer.as_ref()?;
    let doc = match e.kind {
        EventKind::TransferredOut => json!({
            "transferId": leg.transfer_id.to_string(),
            "sku": e.item.sku,
            "from": leg.from,
            "to": leg.to,
            "quantity": e.amount,
            "since": e.occurred_at.unwrap_or(e.recorded_at).to_string(),
            "departed": true,
        }),
        _ => json!({"transferId": leg.transfer_id.to_string(), "arrived": true}),
    };
    Some((leg.transfer_id.to_string(), json!({"doc": doc, "doc_as_upsert": true})))
}

fn in_transit(source: &Value) -> Result<InTransit, ReadModelError> {
    let text = |field: &str| source[field].as_str().ok_or_else(|| corrupt(format!("transfer without {field}")));
    Ok(InTransit {
        transfer_id: TransferId::parse(text("transferId")?).map_err(corrupt)?,
        sku: Sku::parse(text("sku")?).map_err(corrupt)?,
        from: LocationId::parse(text("from")?).map_err(corrupt)?,
        to: LocationId::parse(text("to")?).map_err(corrupt)?,
        quantity: source["quantity"].as_u64().and_then(|q| u32::try_from(q).ok()).ok_or_else(|| corrupt("quantity"))?,
        since: Timestamp::parse(text("since")?).map_err(corrupt)?,
    })
}

/// A bulk item's status: success, or a 409 that means "already there / older" (acknowledged).
fn bulk_status(item: &Value) -> Result<Applied, ReadModelError> {
    let status = item.as_object().and_then(|o| o.values().next()).and_then(|r| r["status"].as_u64()).unwrap_or(0);
    match status {
        200..=299 => Ok(Applied::Applied),
        409 => Ok(Applied::Stale),
        429 | 500..=599 => Err(unavailable(format!("bulk item answered {status}"))),
        _ => Err(corrupt(format!("bulk item answered {status}: {item}"))),
    }
}

fn hits(body: &Value) -> &[Value] {
    body["hits"]["hits"].as_array().map(Vec::as_slice).unwrap_or(&[])
}

impl ElasticReadModel {
    /// A client for the cluster; no request is sent until the first use, which makes sure every alias exists
    /// (creating `-v1` indices with their mappings if not).
    pub async fn connect(settings: &ElasticSettings) -> Result<Self, ReadModelError> {
        let url = settings.url.parse().map_err(|e| corrupt(format!("ELASTICSEARCH_URL: {e}")))?;
        let mut builder = TransportBuilder::new(SingleNodeConnectionPool::new(url)).timeout(Duration::from_secs(10));
        if let Some(key) = &settings.api_key {
            builder = builder.auth(Credentials::EncodedApiKey(key.secret().to_owned()));
        }
        let transport = builder.build().map_err(unavailable)?;
        Ok(Self {
            client: Elasticsearch::new(transport),
            indices: Indices { prefix: settings.index_prefix.clone() },
            aliases: Arc::default(),
        })
    }

    /// Makes sure every alias exists, once: the first caller tries, those behind it wait for its outcome, and
    /// for `RETRY_INDICES_AFTER` after a failure every caller fails at once with its reason.
    async fn ready(&self) -> Result<(), ReadModelError> {
        if self.aliases.ready.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut last_failure = self.aliases.last_failure.lock().await;
        if self.aliases.ready.load(Ordering::Acquire) {
            return Ok(());
        }
        if let Some((at, reason)) = last_failure.as_ref()
            && at.elapsed() < RETRY_INDICES_AFTER
        {
            return Err(unavailable(reason.clone()));
        }
        match self.ensure_indices().await {
            Ok(()) => {
                self.aliases.ready.store(true, Ordering::Release);
                *last_failure = None;
                Ok(())
            }
            Err(ReadModelError::Unavailable(cause)) => {
                *last_failure = Some((Instant::now(), cause.to_string()));
                Err(ReadModelError::Unavailable(cause))
            }
            Err(error) => Err(error),
        }
    }

    async fn ensure_indices(&self) -> Result<(), ReadModelError> {
        for kind in IndexKind::ALL {
            let alias = self.indices.alias(kind);
            let exists = self
                .client
                .indices()
                .exists_alias(IndicesExistsAliasParts::Name(&[&alias]))
                .send()
                .await
                .map_err(unavailable)?;
            if exists.status_code().is_success() {
                self.put_mapping(kind, &alias).await?;
                continue;
            }
            self.create_index(kind, &self.indices.versioned(kind, 1), Some(&alias)).await?;
        }
        Ok(())
    }

    /// Brings an existing index's mapping up to this release's (fields are only ever added, which Elasticsearch
    /// does in place), so an index made before a field existed takes documents with it.
    async fn put_mapping(&self, kind: IndexKind, alias: &str) -> Result<(), ReadModelError> {
        let response = self
            .client
            .indices()
            .put_mapping(IndicesPutMappingParts::Index(&[alias]))
            .body(kind.mappings())
            .send()
            .await
            .map_err(unavailable)?;
        body(response).await.map(|_| ())
    }

    /// Creates a versioned index (optionally already behind the alias). Losing a creation race is fine.
    pub async fn create_index(&self, kind: IndexKind, index: &str, alias: Option<&str>) -> Result<(), ReadModelError> {
        let mut request = json!({"settings": Indices::settings(), "mappings": kind.mappings()});
        if let Some(alias) = alias {
            request["aliases"] = json!({ alias: {} });
        }
        let response = self
            .client
            .indices()
            .create(IndicesCreateParts::Index(index))
            .body(request)
            .send()
            .await
            .map_err(unavailable)?;
        if response.status_code() == StatusCode::BAD_REQUEST {
            let text = response.text().await.unwrap_or_default();
            if text.contains("resource_already_exists_exception") {
                return Ok(());
            }
            return Err(corrupt(format!("creating {index}: {text}")));
        }
        body(response).await.map(|_| ())
    }

    /// Makes every write so far visible to searches. `refresh=wait_for` waits only for what the bulk itself
    /// wrote: an event found stale (a duplicate delivered while its first delivery's write still waits for a
    /// refresh) writes nothing, so acknowledging it would let searches show the state before it (the deployed-shape
    /// suite delivers such duplicates on two instances). Duplicates are rare, so is this call.
    async fn refresh(&self) -> Result<(), ReadModelError> {
        let aliases: Vec<String> = IndexKind::ALL.iter().map(|kind| self.indices.alias(*kind)).collect();
        let aliases: Vec<&str> = aliases.iter().map(String::as_str).collect();
        let indices = self.client.indices();
        let refresh = indices.refresh(IndicesRefreshParts::Index(&aliases)).request_timeout(WRITE_TIMEOUT);
        body(refresh.send().await.map_err(unavailable)?).await.map(|_| ())
    }

    async fn search(&self, kind: IndexKind, request: Value) -> Result<Value, ReadModelError> {
        let alias = self.indices.alias(kind);
        let response =
            self.client.search(SearchParts::Index(&[&alias])).body(request).send().await.map_err(unavailable)?;
        body(response).await
    }

    /// Product names and reorder levels, for the given skus (or all products).
    async fn products(&self, skus: Option<Vec<String>>) -> Result<HashMap<String, ProductInfo>, ReadModelError> {
        let query = match skus {
            Some(skus) if skus.is_empty() => return Ok(HashMap::new()),
            Some(skus) => json!({"terms": {"sku": skus}}),
            None => json!({"match_all": {}}),
        };
        let found = self.search(IndexKind::Products, json!({"size": MAX_TERMS, "query": query})).await?;
        Ok(hits(&found)
            .iter()
            .filter_map(|hit| {
                let source = &hit["_source"];
                let barcodes = source["barcodes"].as_array().map(Vec::as_slice).unwrap_or_default();
                let info = ProductInfo {
                    name: source["name"].as_str().map(str::to_owned),
                    reorder_level: quantity_of(&source["reorderLevel"]),
                    barcodes: barcodes.iter().filter_map(|b| b.as_str().and_then(|s| Gtin::parse(s).ok())).collect(),
                };
                Some((source["sku"].as_str()?.to_owned(), info))
            })
            .collect())
    }

    /// The filter clauses of an inventory query; `None` when it cannot match anything.
    async fn filters(&self, q: &InventoryQuery) -> Result<Option<Vec<Value>>, ReadModelError> {
        let mut filters = Vec::new();
        if let Some(location) = &q.location {
            filters.push(json!({"term": {"location": location}}));
        }
        if let Some(sku) = &q.sku {
            filters.push(json!({"term": {"sku": sku}}));
        }
        if let Some(text) = q.text.as_deref().filter(|t| !t.trim().is_empty()) {
            // match_bool_prefix analyses the text as plain words: no query syntax can be injected.
            let named = self
                .search(
                    IndexKind::Products,
                    json!({"size": MAX_TERMS, "_source": ["sku"], "query": {"multi_match": {
                        "query": text, "type": "bool_prefix", "operator": "and", "fields": ["name", "skuWords"]}}}),
                )
                .await?;
            let skus: Vec<&str> = hits(&named).iter().filter_map(|h| h["_source"]["sku"].as_str()).collect();
            filters.push(json!({"bool": {"minimum_should_match": 1, "should": [
                {"terms": {"sku": skus}},
                {"match_bool_prefix": {"skuWords": {"query": text, "operator": "and"}}},
            ]}}));
        }
        if let Some(barcode) = &q.barcode {
            let having = self
                .search(
                    IndexKind::Products,
                    json!({"size": MAX_TERMS, "_source": ["sku"], "query": {"term": {"gtins": barcode.key()}}}),
                )
                .await?;
            let skus: Vec<&str> = hits(&having).iter().filter_map(|h| h["_source"]["sku"].as_str()).collect();
            if skus.is_empty() {
                return Ok(None);
            }
            filters.push(json!({"terms": {"sku": skus}}));
        }
        if q.low_stock_only {
            let products = self.products(None).await?;
            let low: Vec<Value> = products
                .iter()
                .filter_map(|(sku, info)| {
                    let level = info.reorder_level?;
                    Some(json!({"bool": {"filter": [{"term": {"sku": sku}}, {"range": {"quantity": {"lte": level}}}]}}))
                })
                .collect();
            if low.is_empty() {
                return Ok(None);
            }
            filters.push(json!({"bool": {"minimum_should_match": 1, "should": low}}));
        }
        Ok(Some(filters))
    }
}

#[async_trait]
impl ReadModel for ElasticReadModel {
    async fn apply(&self, event: &Event) -> Result<Applied, ReadModelError> {
        let applied = self.apply_batch(std::slice::from_ref(event)).await?;
        applied.into_iter().next().ok_or_else(|| corrupt("no outcome for an applied event"))
    }

    /// One `_bulk` request (and one refresh wait) for the whole batch: per event, create its activity
    /// document, then index its versioned document with `version_type=external`.
    #[tracing::instrument(name = "Elasticsearch apply_batch", skip_all, fields(otel.kind = "client", db.system.name = "elasticsearch"))]
    async fn apply_batch(&self, events: &[Event]) -> Result<Vec<Applied>, ReadModelError> {
        self.ready().await?;
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let activity = self.indices.alias(IndexKind::Activity);
        let transfers = self.indices.alias(IndexKind::Transfers);
        let mut lines = BulkBody::default();
        // Bulk items per event: its activity document (not for a location's), its versioned document, and a
        // transfer's merge.
        let mut per_event = Vec::with_capacity(events.len());
        for event in events {
            let activity_doc = activity_document(event);
            let logged = activity_doc.is_some();
            if let Some(doc) = activity_doc {
                lines.line(&Action::Create { index: &activity, id: event.id().to_string() });
                lines.line(&doc);
            }
            let (kind, id, version, doc) = versioned_document(event);
            let index = self.indices.alias(kind);
            lines.line(&Action::Index { index: &index, id, version, version_type: "external" });
            lines.line(&doc);
            let merged = match event {
                Event::Stock(e) if let Some((id, update)) = transfer_update(e) => {
                    lines.line(&Action::Update { index: &transfers, id, retry_on_conflict: 5 });
                    lines.line(&update);
                    true
                }
                _ => false,
            };
            per_event.push((logged, merged));
        }
        let response = self
            .client
            .bulk(BulkParts::None)
            .refresh(Refresh::WaitFor)
            .request_timeout(WRITE_TIMEOUT)
            // Only what is read back: each item's status (and error). The whole answer repeats index, id,
            // version and shards for every document, which the projection parsed and dropped.
            .filter_path(&["items.*.status", "items.*.error"])
            .body(vec![Bytes::from(lines.0)])
            .send()
            .await
            .map_err(unavailable)?;
        let answer = body(response).await?;
        let items = answer["items"].as_array().ok_or_else(|| corrupt("bulk answer without items"))?;
        let expected: usize =
            per_event.iter().map(|(logged, merged)| 1 + usize::from(*logged) + usize::from(*merged)).sum();
        if items.len() != expected {
            return Err(corrupt("bulk answer with a different number of items"));
        }
        let mut rest = items.iter();
        let mut applied = Vec::with_capacity(events.len());
        let mut next = || rest.next().ok_or_else(|| corrupt("bulk answer with too few items"));
        for (logged, merged) in per_event {
            if logged {
                bulk_status(next()?)?;
            }
            let versioned = bulk_status(next()?)?;
            if merged {
                bulk_status(next()?)?;
            }
            applied.push(versioned);
        }
        if applied.contains(&Applied::Stale) {
            self.refresh().await?;
        }
        Ok(applied)
    }

    #[tracing::instrument(name = "Elasticsearch inventory", skip_all, fields(otel.kind = "client", db.system.name = "elasticsearch"))]
    async fn inventory(&self, q: &InventoryQuery) -> Result<InventoryPage, ReadModelError> {
        self.ready().await?;
        let Some(filters) = self.filters(q).await? else {
            return Ok(InventoryPage { items: Vec::new(), more: false });
        };
        let mut request = json!({
            "size": q.limit + 1,
            "sort": [{"sku": "asc"}, {"location": "asc"}],
            "query": {"bool": {"filter": filters}},
        });
        if let Some((sku, location)) = &q.after {
            request["search_after"] = json!([sku, location]);
        }
        let found = self.search(IndexKind::Items, request).await?;
        let sources: Vec<&Value> = hits(&found).iter().map(|h| &h["_source"]).collect();
        let skus: Vec<String> = sources.iter().filter_map(|s| s["sku"].as_str().map(str::to_owned)).collect();
        let products = self.products(Some(skus)).await?;
        let mut items = sources.into_iter().map(|s| item_view(s, &products)).collect::<Result<Vec<_>, _>>()?;
        let more = items.len() > q.limit;
        items.truncate(q.limit);
        Ok(InventoryPage { items, more })
    }

    #[tracing::instrument(name = "Elasticsearch item", skip_all, fields(otel.kind = "client", db.system.name = "elasticsearch"))]
    async fn item(&self, key: &ItemKey) -> Result<Option<ItemView>, ReadModelError> {
        self.ready().await?;
        let alias = self.indices.alias(IndexKind::Items);
        let id = item_id(key);
        let response = self.client.get(GetParts::IndexId(&alias, &id)).send().await.map_err(unavailable)?;
        if response.status_code() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let found = body(response).await?;
        let products = self.products(Some(vec![key.sku.to_string()])).await?;
        item_view(&found["_source"], &products).map(Some)
    }

    #[tracing::instrument(name = "Elasticsearch summary", skip_all, fields(otel.kind = "client", db.system.name = "elasticsearch"))]
    async fn summary(&self) -> Result<Summary, ReadModelError> {
        self.ready().await?;
        let request = json!({
            "size": 0,
            "aggs": {
                "by_sku": {"terms": {"field": "sku", "size": MAX_TERMS, "order": {"_key": "asc"}}, "aggs": {
                    "total": {"sum": {"field": "quantity"}},
                    "by_location": {"terms": {"field": "location", "size": MAX_TERMS, "order": {"_key": "asc"}},
                                    "aggs": {"quantity": {"sum": {"field": "quantity"}}}},
                }},
                "by_location": {"terms": {"field": "location", "size": MAX_TERMS, "order": {"_key": "asc"}}, "aggs": {
                    "total": {"sum": {"field": "quantity"}},
                    "stocked": {"filter": {"range": {"quantity": {"gt": 0}}}},
                }},
            },
        });
        let found = self.search(IndexKind::Items, request).await?;
        let products_info = self.products(None).await?;
        let buckets = |path: &str| found["aggregations"][path]["buckets"].as_array().cloned().unwrap_or_default();
        let mut products: BTreeMap<String, ProductTotal> = BTreeMap::new();
        for bucket in buckets("by_sku") {
            let sku = Sku::parse(bucket["key"].as_str().unwrap_or_default()).map_err(corrupt)?;
            let info = products_info.get(sku.as_str()).cloned().unwrap_or_default();
            let mut by_location = Vec::new();
            for location in bucket["by_location"]["buckets"].as_array().cloned().unwrap_or_default() {
                let name = LocationId::parse(location["key"].as_str().unwrap_or_default()).map_err(corrupt)?;
                by_location.push((name, Stock(location["quantity"]["value"].as_f64().unwrap_or(0.0) as i64)));
            }
            products.insert(
                sku.to_string(),
                ProductTotal {
                    name: info.name.unwrap_or_else(|| sku.to_string()),
                    total: bucket["total"]["value"].as_f64().unwrap_or(0.0) as i64,
                    by_location,
                    reorder_level: info.reorder_level,
                    barcodes: info.barcodes,
                    sku,
                },
            );
        }
        for (sku, info) in &products_info {
            if !products.contains_key(sku) {
                let parsed = Sku::parse(sku).map_err(corrupt)?;
                let name = info.name.clone().unwrap_or_else(|| sku.clone());
                products.insert(
                    sku.clone(),
                    ProductTotal {
                        sku: parsed,
                        name,
                        total: 0,
                        by_location: Vec::new(),
                        reorder_level: info.reorder_level,
                        barcodes: info.barcodes.clone(),
                    },
                );
            }
        }
        let mut locations = Vec::new();
        for bucket in buckets("by_location") {
            locations.push(LocationTotal {
                location: LocationId::parse(bucket["key"].as_str().unwrap_or_default()).map_err(corrupt)?,
                total: bucket["total"]["value"].as_f64().unwrap_or(0.0) as i64,
                skus: bucket["stocked"]["doc_count"].as_u64().unwrap_or(0),
            });
        }
        let request = json!({
            "size": MAX_IN_TRANSIT,
            "sort": [{"since": "asc"}],
            "query": {"bool": {"filter": [{"term": {"departed": true}}], "must_not": [{"term": {"arrived": true}}]}},
        });
        let found = self.search(IndexKind::Transfers, request).await?;
        let in_transit = hits(&found).iter().map(|hit| in_transit(&hit["_source"])).collect::<Result<_, _>>()?;
        Ok(Summary { products: products.into_values().collect(), locations, in_transit })
    }

    #[tracing::instrument(name = "Elasticsearch locations", skip_all, fields(otel.kind = "client", db.system.name = "elasticsearch"))]
    async fn locations(&self) -> Result<Vec<LocationView>, ReadModelError> {
        self.ready().await?;
        let defined = self.search(IndexKind::Locations, json!({"size": MAX_TERMS, "query": {"match_all": {}}})).await?;
        let mut merged: BTreeMap<String, LocationView> = BTreeMap::new();
        for hit in hits(&defined) {
            let source = &hit["_source"];
            let text = |field: &str| source[field].as_str().ok_or_else(|| corrupt(format!("location without {field}")));
            let location = LocationId::parse(text("location")?).map_err(corrupt)?;
            let kind = LocationKind::parse(text("kind")?).ok_or_else(|| corrupt("location kind"))?;
            let view = LocationView {
                name: Some(text("name")?.to_owned()),
                kind: Some(kind),
                retired: source["retired"].as_bool().ok_or_else(|| corrupt("location retired"))?,
                version: Some(Version(source["version"].as_u64().ok_or_else(|| corrupt("location version"))?)),
                skus: 0,
                total: 0,
                location: location.clone(),
            };
            merged.insert(location.to_string(), view);
        }
        let request = json!({
            "size": 0,
            "aggs": {"by_location": {"terms": {"field": "location", "size": MAX_TERMS}, "aggs": {
                "total": {"sum": {"field": "quantity"}},
                "stocked": {"filter": {"range": {"quantity": {"gt": 0}}}},
            }}},
        });
        let held = self.search(IndexKind::Items, request).await?;
        for bucket in held["aggregations"]["by_location"]["buckets"].as_array().cloned().unwrap_or_default() {
            let location = LocationId::parse(bucket["key"].as_str().unwrap_or_default()).map_err(corrupt)?;
            let view = merged.entry(location.to_string()).or_insert_with(|| LocationView {
                location,
                name: None,
                kind: None,
                retired: false,
                version: None,
                skus: 0,
                total: 0,
            });
            view.total = bucket["total"]["value"].as_f64().unwrap_or(0.0) as i64;
            view.skus = bucket["stocked"]["doc_count"].as_u64().unwrap_or(0);
        }
        Ok(merged.into_values().collect())
    }

    #[tracing::instrument(name = "Elasticsearch activity", skip_all, fields(otel.kind = "client", db.system.name = "elasticsearch"))]
    async fn activity(&self, q: &ActivityQuery) -> Result<Vec<Event>, ReadModelError> {
        self.ready().await?;
        let mut filters = Vec::new();
        if let Some(location) = &q.location {
            filters.push(json!({"term": {"location": location}}));
        }
        if let Some(sku) = &q.sku {
            filters.push(json!({"term": {"sku": sku}}));
        }
        if !q.kinds.is_empty() {
            let types: Vec<&str> = q.kinds.iter().map(|kind| kind.type_name()).collect();
            filters.push(json!({"terms": {"type": types}}));
        }
        let mut range = serde_json::Map::new();
        if let Some(from) = q.from {
            range.insert("gte".into(), json!(from.to_string()));
        }
        if let Some(to) = q.to {
            range.insert("lt".into(), json!(to.to_string()));
        }
        if !range.is_empty() {
            filters.push(json!({"range": {"recordedAt": range}}));
        }
        // The sort values come back (and `search_after` takes them) as the instants' text, not as nanoseconds.
        let mut request = json!({
            "size": q.limit,
            "sort": [{"recordedAt": {"order": "desc", "format": "strict_date_optional_time_nanos"}},
                     {"eventId": "desc"}],
            "query": {"bool": {"filter": filters}},
        });
        if let Some(before) = &q.before {
            request["search_after"] = json!([before.recorded_at.to_string(), before.event_id.to_string()]);
        }
        let found = self.search(IndexKind::Activity, request).await?;
        hits(&found).iter().map(|hit| event_json::decode(&hit["_source"]["event"]).map_err(corrupt)).collect()
    }

    #[tracing::instrument(name = "Elasticsearch rebuild", skip_all, fields(otel.kind = "client", db.system.name = "elasticsearch"))]
    async fn rebuild(&self, events: &[Event]) -> Result<(), ReadModelError> {
        self.ready().await?;
        // A fresh set of indices behind aliases of their own (a unique prefix), filled through the same code.
        let stamp = Timestamp::now().unix_seconds() as u64;
        let staging = Indices { prefix: format!("{}-rebuild{stamp}", self.indices.prefix) };
        let fresh = ElasticReadModel { client: self.client.clone(), indices: staging.clone(), aliases: Arc::default() };
        fresh.ensure_indices().await?;
        for chunk in events.chunks(500) {
            fresh.apply_batch(chunk).await?;
        }
        // One _aliases request moves every live alias to its fresh index: atomic for readers.
        let mut actions = Vec::new();
        let mut retired = Vec::new();
        for kind in IndexKind::ALL {
            let alias = self.indices.alias(kind);
            let current = self
                .client
                .indices()
                .get_alias(IndicesGetAliasParts::Name(&[&alias]))
                .send()
                .await
                .map_err(unavailable)?;
            let current = body(current).await?;
            for old in current.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()).unwrap_or_default() {
                actions.push(json!({"remove": {"index": old, "alias": alias}}));
                retired.push(old);
            }
            let index = staging.versioned(kind, 1);
            actions.push(json!({"add": {"index": index, "alias": alias}}));
            actions.push(json!({"remove": {"index": index, "alias": staging.alias(kind)}}));
        }
        let swapped = self
            .client
            .indices()
            .update_aliases()
            .body(json!({"actions": actions}))
            .send()
            .await
            .map_err(unavailable)?;
        body(swapped).await?;
        let retired: Vec<&str> = retired.iter().map(String::as_str).collect();
        if !retired.is_empty() {
            let deleted =
                self.client.indices().delete(IndicesDeleteParts::Index(&retired)).send().await.map_err(unavailable)?;
            body(deleted).await?;
        }
        Ok(())
    }

    #[tracing::instrument(name = "Elasticsearch as_of", skip_all, fields(otel.kind = "client", db.system.name = "elasticsearch"))]
    async fn as_of(&self) -> Result<Option<Timestamp>, ReadModelError> {
        self.ready().await?;
        let request = json!({"size": 1, "_source": ["recordedAt"], "sort": [{"recordedAt": "desc"}]});
        let found = self.search(IndexKind::Activity, request).await?;
        hits(&found)
            .first()
            .and_then(|hit| hit["_source"]["recordedAt"].as_str())
            .map(|t| Timestamp::parse(t).map_err(corrupt))
            .transpose()
    }
}
