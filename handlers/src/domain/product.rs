//! Products: a sku's display name, category and reorder level.

use serde::{Deserialize, Serialize};

use super::{Command, DomainError, EventId, Gtin, ProductEvent, Quantity, Sku, StreamId, Timestamp, Version};

/// A product's name: 1–120 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProductName(String);

/// The name was empty, too long, or had control characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be 1 to 120 characters without control characters")]
pub struct ProductNameError;

impl ProductName {
    pub fn parse(s: &str) -> Result<Self, ProductNameError> {
        let trimmed = s.trim();
        let len = trimmed.chars().count();
        if (1..=120).contains(&len) && !trimmed.chars().any(char::is_control) {
            Ok(Self(trimmed.to_owned()))
        } else {
            Err(ProductNameError)
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A product's current definition (version 0: never defined).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductState {
    pub sku: Sku,
    pub name: Option<ProductName>,
    pub category: Option<String>,
    pub reorder_level: Option<Quantity>,
    /// Its barcodes, each of them this product's alone (the write store's registry keeps them unique). States
    /// written before barcodes have none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub barcodes: Vec<Gtin>,
    pub version: Version,
}

impl ProductState {
    pub fn empty(sku: Sku) -> Self {
        Self { sku, name: None, category: None, reorder_level: None, barcodes: Vec::new(), version: Version::NONE }
    }

    /// Decides a `defineProduct`: always allowed unless the client's expected version is stale. A list of
    /// `barcodes` replaces the product's; none keeps them (whether another product has one is the write store's
    /// to refuse, at commit).
    pub fn define(
        &self,
        command: &Command,
        name: &ProductName,
        category: &Option<String>,
        reorder_level: Option<Quantity>,
        barcodes: Option<&[Gtin]>,
        now: Timestamp,
    ) -> Result<(ProductState, ProductEvent), DomainError> {
        super::item::check_expected(command, self.version)?;
        let version = self.version.next();
        let barcodes = barcodes.map_or_else(|| self.barcodes.clone(), <[Gtin]>::to_vec);
        let next = ProductState {
            sku: self.sku.clone(),
            name: Some(name.clone()),
            category: category.clone(),
            reorder_level,
            barcodes: barcodes.clone(),
            version,
        };
        let event = ProductEvent {
            id: EventId::derive(command.id, &StreamId::Product(self.sku.clone())),
            sku: self.sku.clone(),
            name: name.clone(),
            category: category.clone(),
            reorder_level,
            barcodes,
            version,
            command_id: command.id,
            recorded_at: now,
            trace: command.meta.trace.clone(),
            caller: command.meta.caller.clone(),
        };
        Ok((next, event))
    }
}
