//! The barcode registry on Cosmos DB. A transactional batch covers one logical partition, and every product is a
//! partition of its own, so no batch can hold two products' barcodes. Each barcode gets a partition of its own
//! instead, holding one claim document (`documents::barcode_claim`: the sku, and the version of the product's
//! definition that claimed it), created with create-if-absent semantics **before** the product's batch commits.
//!
//! A claim is **live** while its product lists the barcode, or may still come to (the product's version is below
//! the claim's: the claiming definition is between its claim and its commit). Otherwise it is **stale**, and
//! another product may take it over (a replace conditional on the claim's ETag, so two takers cannot both win).
//! Why this is safe:
//! - Two products claiming one barcode at once: only one create succeeds; the other finds a live claim (its owner's
//!   version is below the claim's until that batch commits) and is refused `barcode-taken`, writing nothing.
//! - A crash between claim and commit leaves a claim whose product does not list the barcode. A retry with the same
//!   `commandId` decides again, finds the claim its own sku's, claims it again for the version it now commits, and
//!   completes. If nobody retries, the product's next definition commits that version (or a later one) without the
//!   barcode, and from then on the claim is stale: a definition elsewhere may take it over.
//! - A stale claim taken over while its old definition is still in flight: that definition's batch is conditional
//!   on the product's state as loaded, which is older than the claim's version only if that batch has already failed
//!   or will (the product moved on), so it decides again and meets the new owner's live claim.
//! - A definition that drops a barcode deletes its claim after the commit (conditional on the claim being still
//!   its own); if that is lost, the claim is stale by the rule above, and resolving the barcode finds no product.
//!
//! Resolving a barcode (`sku_for_barcode`) reads its claim and the claiming product: the barcode names that sku only
//! if the product lists it (two point reads).

use azure_data_cosmos::options::{ItemWriteOptions, Precondition};
use serde_json::Value;

use super::documents;
use super::write_store::{CosmosWriteStore, corrupt, unavailable};
use crate::domain::{Aggregate, Gtin, ProductState, Sku, StreamId, Version};
use crate::ports::StoreError;
use crate::ports::write_store::Commit;

/// How often one claim is tried again after losing a race for its document before the command is told to retry.
const MAX_CLAIM_ATTEMPTS: usize = 8;

/// A barcode's claim as stored, with its ETag.
struct Claim {
    sku: Sku,
    version: Version,
    etag: String,
}

impl CosmosWriteStore {
    /// Claims every barcode the commit's definition newly gives its product; `Some` names one another product has
    /// (nothing more is claimed then; claims already made for this commit stay, and are stale unless it is retried).
    pub(super) async fn claim_barcodes(&self, commit: &Commit) -> Result<Option<(Gtin, Sku)>, StoreError> {
        let StreamId::Product(sku) = &commit.stream else { return Ok(None) };
        let version = commit.state.version();
        for barcode in &commit.barcodes.claimed {
            if let Some(owner) = self.claim_barcode(barcode, sku, version).await? {
                return Ok(Some((barcode.clone(), owner)));
            }
        }
        Ok(None)
    }

    /// Claims one barcode for `sku` at `version`; `Some(owner)` when another product holds it live.
    async fn claim_barcode(&self, barcode: &Gtin, sku: &Sku, version: Version) -> Result<Option<Sku>, StoreError> {
        let partition = documents::barcode_partition(barcode);
        let doc = documents::barcode_claim(barcode, sku, version);
        for _ in 0..MAX_CLAIM_ATTEMPTS {
            match self.container.create_item(partition.clone(), documents::BARCODE_ID, doc.clone(), None).await {
                Ok(_) => return Ok(None),
                Err(error) if error.status().is_conflict() => {}
                Err(error) => return Err(unavailable(error)),
            }
            let Some(claim) = self.barcode_claim(barcode).await? else { continue };
            if claim.sku != *sku && self.is_live(&claim, barcode).await? {
                return Ok(Some(claim.sku));
            }
            // Its own (from an earlier attempt, or another definition of the same product), or another's gone
            // stale: made this definition's, unless the claim changed since it was read. Its version never goes
            // down: a lower one could make a definition still in flight look stale.
            let version = if claim.sku == *sku { claim.version.max(version) } else { version };
            let mine = documents::barcode_claim(barcode, sku, version);
            let options = ItemWriteOptions::default().with_precondition(Precondition::IfMatch(claim.etag.into()));
            match self.container.replace_item(partition.clone(), documents::BARCODE_ID, mine, Some(options)).await {
                Ok(_) => return Ok(None),
                Err(error) if error.status().is_precondition_failed() || error.status().is_not_found() => continue,
                Err(error) => return Err(unavailable(error)),
            }
        }
        Err(StoreError::Unavailable("a barcode's claim kept changing; retry".into()))
    }

    /// Deletes the claims of the barcodes a committed definition dropped. Only tidiness (a claim its product does
    /// not list is stale): a failure is logged.
    pub(super) async fn release_barcodes(&self, commit: &Commit) {
        let StreamId::Product(sku) = &commit.stream else { return };
        for barcode in &commit.barcodes.released {
            let released = async {
                let Some(claim) = self.barcode_claim(barcode).await? else { return Ok(()) };
                if claim.sku != *sku || claim.version > commit.state.version() {
                    return Ok(());
                }
                let options = ItemWriteOptions::default().with_precondition(Precondition::IfMatch(claim.etag.into()));
                let partition = documents::barcode_partition(barcode);
                match self.container.delete_item(partition, documents::BARCODE_ID, Some(options)).await {
                    Err(error) if !error.status().is_not_found() && !error.status().is_precondition_failed() => {
                        Err(unavailable(error))
                    }
                    _ => Ok(()),
                }
            };
            if let Err(error) = released.await {
                tracing::warn!(%error, %barcode, %sku, "could not delete a released barcode's claim; it is stale");
            }
        }
    }

    /// The sku whose product has `barcode`: its claim's, if that product lists it.
    pub(super) async fn barcode_owner(&self, barcode: &Gtin) -> Result<Option<Sku>, StoreError> {
        let Some(claim) = self.barcode_claim(barcode).await? else { return Ok(None) };
        let lists = self.product(&claim.sku).await?.is_some_and(|p| p.barcodes.contains(barcode));
        Ok(lists.then_some(claim.sku))
    }

    /// Whether a claim still binds its barcode (see the module's comment).
    async fn is_live(&self, claim: &Claim, barcode: &Gtin) -> Result<bool, StoreError> {
        Ok(match self.product(&claim.sku).await? {
            None => true, // never defined yet: its first definition is in flight
            Some(product) => product.version < claim.version || product.barcodes.contains(barcode),
        })
    }

    async fn barcode_claim(&self, barcode: &Gtin) -> Result<Option<Claim>, StoreError> {
        let partition = documents::barcode_partition(barcode);
        let response = match self.container.read_item(partition, documents::BARCODE_ID, None).await {
            Ok(response) => response,
            Err(error) if error.status().is_not_found() => return Ok(None),
            Err(error) => return Err(unavailable(error)),
        };
        let etag = response.headers().etag().map(|e| e.to_string()).ok_or_else(|| corrupt("claim without an ETag"))?;
        let doc: Value = response.into_model().map_err(corrupt)?;
        let sku = doc["sku"].as_str().and_then(|s| Sku::parse(s).ok()).ok_or_else(|| corrupt("barcode claim sku"))?;
        let version = Version(doc["version"].as_u64().ok_or_else(|| corrupt("barcode claim version"))?);
        Ok(Some(Claim { sku, version, etag }))
    }

    /// A product's stored definition, if it has one.
    async fn product(&self, sku: &Sku) -> Result<Option<ProductState>, StoreError> {
        let stream = StreamId::Product(sku.clone());
        let response = match self.container.read_item(stream.to_string(), documents::STATE_ID, None).await {
            Ok(response) => response,
            Err(error) if error.status().is_not_found() => return Ok(None),
            Err(error) => return Err(unavailable(error)),
        };
        let doc: Value = response.into_model().map_err(corrupt)?;
        match serde_json::from_value(doc["state"].clone()).map_err(corrupt)? {
            Aggregate::Product(product) => Ok(Some(product)),
            Aggregate::Item(_) | Aggregate::Location(_) => Err(corrupt("a product's stream holds another aggregate")),
        }
    }
}
