//! Index names and mappings. Each kind of document lives in a versioned index (`pieshop-items-v1`) behind an
//! alias (`pieshop-items`), so a rebuild can fill a fresh index and swap the alias atomically.

use serde_json::{Value, json};

/// The kinds of read-model document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKind {
    /// One document per item (`{location}~{sku}`), versioned externally by the item's version.
    Items,
    /// One document per product (sku), versioned externally by the product's version.
    Products,
    /// One document per event (event id), created once.
    Activity,
    /// One document per transfer (transfer id), merged from both halves: in transit while departed, not arrived.
    Transfers,
    /// One document per defined location (its id), versioned externally by the location's version. Added in API
    /// 1.2: a deployment that has the other indices gets this one created on first use (`ensure_indices` makes
    /// sure of each alias on its own), so no rebuild is needed.
    Locations,
}

impl IndexKind {
    pub const ALL: [IndexKind; 5] =
        [IndexKind::Items, IndexKind::Products, IndexKind::Activity, IndexKind::Transfers, IndexKind::Locations];

    fn suffix(self) -> &'static str {
        match self {
            IndexKind::Items => "items",
            IndexKind::Products => "products",
            IndexKind::Activity => "activity",
            IndexKind::Transfers => "transfers",
            IndexKind::Locations => "locations",
        }
    }

    /// Explicit mappings: keyword ids, text + keyword names, integers, dates; nothing dynamic. Fields are only
    /// ever added, so an index made by an older release takes the current mapping in place (`ensure_indices`).
    pub fn mappings(self) -> Value {
        let properties = match self {
            IndexKind::Items => json!({
                "location": {"type": "keyword"},
                "sku": {"type": "keyword"},
                "skuWords": {"type": "text"},
                "quantity": {"type": "integer"},
                "version": {"type": "long"},
                "updatedAt": {"type": "date_nanos"},
            }),
            IndexKind::Products => json!({
                "sku": {"type": "keyword"},
                "name": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
                "skuWords": {"type": "text"},
                "category": {"type": "keyword"},
                "reorderLevel": {"type": "integer"},
                "version": {"type": "long"},
                // API 1.2: the barcodes as given (shown), and their 14-digit GS1 forms (filtered on).
                "barcodes": {"type": "keyword", "index": false},
                "gtins": {"type": "keyword"},
            }),
            IndexKind::Activity => json!({
                "eventId": {"type": "keyword"},
                "type": {"type": "keyword"},
                "location": {"type": "keyword"},
                "sku": {"type": "keyword"},
                "recordedAt": {"type": "date_nanos"},
                "event": {"type": "object", "enabled": false},
            }),
            IndexKind::Transfers => json!({
                "transferId": {"type": "keyword"},
                "sku": {"type": "keyword"},
                "from": {"type": "keyword"},
                "to": {"type": "keyword"},
                "quantity": {"type": "integer"},
                "since": {"type": "date_nanos"},
                "departed": {"type": "boolean"},
                "arrived": {"type": "boolean"},
            }),
            IndexKind::Locations => json!({
                "location": {"type": "keyword"},
                "name": {"type": "keyword"},
                "kind": {"type": "keyword"},
                "retired": {"type": "boolean"},
                "version": {"type": "long"},
            }),
        };
        json!({"dynamic": "strict", "properties": properties})
    }
}

/// The names of one deployment's indices (`ELASTICSEARCH_INDEX_PREFIX`, default `pieshop`).
#[derive(Debug, Clone)]
pub struct Indices {
    pub prefix: String,
}

impl Indices {
    /// The alias every read and write goes through.
    pub fn alias(&self, kind: IndexKind) -> String {
        format!("{}-{}", self.prefix, kind.suffix())
    }

    /// A concrete, versioned index behind the alias.
    pub fn versioned(&self, kind: IndexKind, generation: u32) -> String {
        format!("{}-{}-v{generation}", self.prefix, kind.suffix())
    }

    /// Settings for a new index: one shard (the data is small), replicas where the cluster has nodes for them,
    /// and a short refresh so `refresh=wait_for` acknowledgements are quick.
    pub fn settings() -> Value {
        json!({"number_of_shards": 1, "auto_expand_replicas": "0-1", "refresh_interval": "200ms"})
    }
}
