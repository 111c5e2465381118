//! Barcodes (API 1.2) at the ports: the write stores' registry (SQLite in one transaction, Cosmos DB by claim
//! documents, `adapters/cosmos/barcodes.rs`), and the read models' `?barcode=` filter and products' barcodes.

use std::sync::Arc;

use pieshop::domain::{self, Action, Aggregate, Command, CommandId, CommandMeta, Gtin, ProductName, Sku, StreamId};
use pieshop::domain::{Timestamp, Version};
use pieshop::ports::read_model::InventoryQuery;
use pieshop::ports::write_store::{CommandOutcome, Commit, CommitResult};
use pieshop::ports::{ReadModel, WriteStore};

use crate::support::{product_with_barcodes, stock};

fn gtin(code: &str) -> Gtin {
    Gtin::parse(code).unwrap()
}

fn sku(name: &str) -> Sku {
    Sku::parse(name).unwrap()
}

/// Defines `name` with the list `barcodes` as the command service would, deciding once on the stored state: what
/// the store answers the commit.
async fn define(store: &Arc<dyn WriteStore>, name: &str, barcodes: &[&str]) -> CommitResult {
    definition(store, name, Some(barcodes)).await
}

/// Defines `name` again without a list (it keeps its barcodes).
async fn rename(store: &Arc<dyn WriteStore>, name: &str) -> CommitResult {
    definition(store, name, None).await
}

async fn definition(store: &Arc<dyn WriteStore>, name: &str, barcodes: Option<&[&str]>) -> CommitResult {
    let stream = StreamId::Product(sku(name));
    let snapshot = store.load(&stream).await.unwrap();
    let (current, expected) = match snapshot {
        Some(s) => (s.aggregate, Some(s.etag)),
        None => (Aggregate::empty(&stream), None),
    };
    let action = Action::DefineProduct {
        sku: sku(name),
        name: ProductName::parse(name).unwrap(),
        category: None,
        reorder_level: None,
        barcodes: barcodes.map(|codes| codes.iter().map(|c| gtin(c)).collect()),
    };
    let command = Command { id: CommandId(uuid::Uuid::new_v4()), action, meta: CommandMeta::default() };
    let decision = domain::decide(&command, &current, Timestamp::now(), None).unwrap();
    let outcome = CommandOutcome { command_id: command.id, request_hash: format!("hash-{}", command.id), answer: None };
    store
        .commit(Commit {
            stream,
            expected,
            state: decision.state,
            events: decision.events,
            outcome,
            transfer: None,
            ledger: decision.ledger,
            barcodes: decision.barcodes,
        })
        .await
        .unwrap()
}

async fn owner(store: &Arc<dyn WriteStore>, code: &str) -> Option<String> {
    store.sku_for_barcode(&gtin(code)).await.unwrap().map(|s| s.to_string())
}

fn committed(result: &CommitResult) -> bool {
    matches!(result, CommitResult::Committed { .. })
}

/// A definition's barcodes resolve to its sku, in any of a GTIN's zero-padded forms; others resolve to nothing.
pub async fn a_definition_claims_its_barcodes(store: Arc<dyn WriteStore>) {
    assert!(committed(&define(&store, "apple-pie", &["4006381333931", "036000291452"]).await));
    assert_eq!(owner(&store, "4006381333931").await.as_deref(), Some("apple-pie"));
    assert_eq!(owner(&store, "0036000291452").await.as_deref(), Some("apple-pie"), "GTIN-13 form of a GTIN-12");
    assert_eq!(owner(&store, "96385074").await, None);
}

/// A barcode names one sku: another product giving it is refused with its owner, and nothing of it is written.
pub async fn a_barcode_another_product_has_is_refused_and_nothing_written(store: Arc<dyn WriteStore>) {
    assert!(committed(&define(&store, "apple-pie", &["4006381333931"]).await));
    match define(&store, "pork-pie", &["96385074", "04006381333931"]).await {
        CommitResult::BarcodeTaken { barcode, sku } => {
            assert_eq!((barcode.as_str(), sku.as_str()), ("04006381333931", "apple-pie"))
        }
        other => panic!("a taken barcode was {other:?}"),
    }
    assert!(store.load(&StreamId::Product(sku("pork-pie"))).await.unwrap().is_none(), "no product written");
    assert_eq!(owner(&store, "96385074").await, None, "not even the barcode that was free");
    assert_eq!(store.events().await.unwrap().len(), 1, "only the first definition's event");
    assert_eq!(owner(&store, "4006381333931").await.as_deref(), Some("apple-pie"));
}

/// A list replaces the product's barcodes (those left out are released, so another product may take them); no
/// list keeps them; defining a product again with its own barcodes is no conflict with itself.
pub async fn a_new_list_releases_what_it_leaves_out(store: Arc<dyn WriteStore>) {
    assert!(committed(&define(&store, "apple-pie", &["4006381333931", "96385074"]).await));
    assert!(committed(&rename(&store, "apple-pie").await), "renamed, barcodes kept");
    assert_eq!(owner(&store, "96385074").await.as_deref(), Some("apple-pie"));
    assert!(committed(&define(&store, "apple-pie", &["4006381333931"]).await), "its own barcode again");
    assert_eq!(owner(&store, "96385074").await, None, "released");
    assert!(committed(&define(&store, "pork-pie", &["96385074"]).await), "free for another product");
    assert_eq!(owner(&store, "96385074").await.as_deref(), Some("pork-pie"));
    assert_eq!(owner(&store, "4006381333931").await.as_deref(), Some("apple-pie"));
    let Some(Aggregate::Product(product)) =
        store.load(&StreamId::Product(sku("apple-pie"))).await.unwrap().map(|s| s.aggregate)
    else {
        panic!("a product")
    };
    assert_eq!((product.barcodes, product.version), (vec![gtin("4006381333931")], Version(3)));
}

/// Two products claiming one barcode at the same moment: exactly one gets it, on every try.
pub async fn two_products_claiming_one_barcode_at_once_one_wins(store: Arc<dyn WriteStore>) {
    for (round, code) in ["4006381333931", "96385074", "036000291452", "10012345678902"].into_iter().enumerate() {
        let (first, second) = (format!("first-{round}"), format!("second-{round}"));
        let codes = [code];
        let (a, b) = tokio::join!(define(&store, &first, &codes), define(&store, &second, &codes));
        let winner = match (&a, &b) {
            (CommitResult::Committed { .. }, CommitResult::BarcodeTaken { sku, .. }) if sku.as_str() == first => &first,
            (CommitResult::BarcodeTaken { sku, .. }, CommitResult::Committed { .. }) if sku.as_str() == second => {
                &second
            }
            other => panic!("round {round}: {other:?}"),
        };
        assert_eq!(owner(&store, code).await.as_deref(), Some(winner.as_str()), "round {round}");
    }
}

macro_rules! barcode_store_contract {
    ($adapter:ident, $make:expr) => {
        mod $adapter {
            use super::*;
            barcode_store_contract!(@cases $make; a_definition_claims_its_barcodes,
                a_barcode_another_product_has_is_refused_and_nothing_written, a_new_list_releases_what_it_leaves_out,
                two_products_claiming_one_barcode_at_once_one_wins);
        }
    };
    (@cases $make:expr; $($case:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                #[allow(unused_variables)]
                let (store, guard) = $make;
                super::$case(store).await;
            }
        )*
    };
}

mod write_store {
    use super::*;
    barcode_store_contract!(sqlite, {
        let (store, dir) = crate::support::sqlite_store();
        (store as Arc<dyn WriteStore>, Some(dir))
    });
    barcode_store_contract!(cosmos, {
        let store = crate::support::cosmos_store().await;
        (store as Arc<dyn WriteStore>, None::<tempfile::TempDir>)
    });
}

/// Cosmos DB: a claim left by a definition that crashed between its claim and its commit holds the barcode while
/// the product may still commit it; the same definition retried completes; once the product's definition has moved
/// on without it, the claim is stale and another product takes the barcode.
#[tokio::test]
async fn cosmos_a_claim_left_by_a_crash_completes_on_retry_or_goes_stale() {
    let (client, settings) = crate::support::cosmos_client(Vec::new()).await;
    let container = client.database_client("pieshop").container_client("inventory", None).await.unwrap();
    let store: Arc<dyn WriteStore> =
        Arc::new(pieshop::adapters::cosmos::CosmosWriteStore::from_client(&client, &settings).await.unwrap());
    let crashed = |code: &str, owner: &str, version: u64| {
        let pk = format!("barcode:{}", gtin(code).key());
        serde_json::json!({"id": "barcode", "pk": pk, "kind": "barcode", "sku": owner, "version": version})
    };
    // apple-pie's first definition claimed 4006381333931 and crashed before its batch.
    let claim = crashed("4006381333931", "apple-pie", 1);
    container.create_item(claim["pk"].as_str().unwrap().to_owned(), "barcode", claim.clone(), None).await.unwrap();
    assert_eq!(owner(&store, "4006381333931").await, None, "a claim alone names no product");
    let refused = define(&store, "pork-pie", &["4006381333931"]).await;
    assert!(
        matches!(refused, CommitResult::BarcodeTaken { ref sku, .. } if sku.as_str() == "apple-pie"),
        "{refused:?}"
    );
    assert!(committed(&define(&store, "apple-pie", &["4006381333931"]).await), "the retry completes");
    assert_eq!(owner(&store, "4006381333931").await.as_deref(), Some("apple-pie"));

    // cherry-pie's second definition claimed 96385074 and crashed; its next definition committed without it.
    assert!(committed(&define(&store, "cherry-pie", &[]).await));
    let claim = crashed("96385074", "cherry-pie", 2);
    container.create_item(claim["pk"].as_str().unwrap().to_owned(), "barcode", claim.clone(), None).await.unwrap();
    let refused = define(&store, "pork-pie", &["96385074"]).await;
    assert!(matches!(refused, CommitResult::BarcodeTaken { .. }), "cherry-pie's version 2 may still commit it");
    assert!(committed(&rename(&store, "cherry-pie").await), "version 2, without the barcode");
    assert!(committed(&define(&store, "pork-pie", &["96385074"]).await), "the stale claim is taken over");
    assert_eq!(owner(&store, "96385074").await.as_deref(), Some("pork-pie"));
    let refused = define(&store, "cherry-pie", &["96385074"]).await;
    assert!(matches!(refused, CommitResult::BarcodeTaken { ref sku, .. } if sku.as_str() == "pork-pie"));
}

fn barcode_query(code: &str) -> InventoryQuery {
    InventoryQuery { barcode: Some(gtin(code)), limit: 100, ..Default::default() }
}

async fn keys(model: &Arc<dyn ReadModel>, query: InventoryQuery) -> Vec<String> {
    model.inventory(&query).await.unwrap().items.iter().map(|i| i.key().to_string()).collect()
}

/// `?barcode=` finds the items of the product that has the barcode, in any zero-padded form; a barcode no product
/// has finds nothing.
pub async fn inventory_filters_by_barcode(model: Arc<dyn ReadModel>) {
    for event in [
        product_with_barcodes("apple-pie", "Apple pie", None, 1, &["4006381333931", "036000291452"]),
        product_with_barcodes("pork-pie", "Pork pie", None, 1, &["96385074"]),
        stock("store-1", "apple-pie", 1, 3, 0),
        stock("van", "apple-pie", 1, 2, 1),
        stock("store-1", "pork-pie", 1, 5, 2),
        stock("store-1", "plain-bun", 1, 1, 3),
    ] {
        model.apply(&event).await.unwrap();
    }
    assert_eq!(keys(&model, barcode_query("4006381333931")).await, ["store-1/apple-pie", "van/apple-pie"]);
    assert_eq!(keys(&model, barcode_query("00036000291452")).await, ["store-1/apple-pie", "van/apple-pie"]);
    assert_eq!(keys(&model, barcode_query("96385074")).await, ["store-1/pork-pie"]);
    let at_van = InventoryQuery {
        location: Some(pieshop::domain::LocationId::parse("van").unwrap()),
        ..barcode_query("036000291452")
    };
    assert_eq!(keys(&model, at_van).await, ["van/apple-pie"], "with the other filters");
    assert!(keys(&model, barcode_query("10012345678902")).await.is_empty(), "no product has it");
}

/// A barcode moved from one product to another, the events arriving in either order: it finds the new owner once
/// both have arrived; the summary lists each product's barcodes as given.
pub async fn a_moved_barcode_finds_its_new_product(model: Arc<dyn ReadModel>) {
    let released = product_with_barcodes("apple-pie", "Apple pie", None, 2, &["036000291452"]);
    let taken = product_with_barcodes("pork-pie", "Pork pie", None, 1, &["4006381333931"]);
    for event in [
        product_with_barcodes("apple-pie", "Apple pie", None, 1, &["4006381333931", "036000291452"]),
        stock("store-1", "apple-pie", 1, 3, 0),
        stock("store-1", "pork-pie", 1, 5, 1),
        taken,
        released,
    ] {
        model.apply(&event).await.unwrap();
    }
    assert_eq!(keys(&model, barcode_query("4006381333931")).await, ["store-1/pork-pie"]);
    let summary = model.summary().await.unwrap();
    let barcodes = |name: &str| {
        let product = summary.products.iter().find(|p| p.sku.as_str() == name).unwrap();
        product.barcodes.iter().map(|b| b.to_string()).collect::<Vec<_>>()
    };
    assert_eq!(barcodes("apple-pie"), ["036000291452"], "as given, GTIN-12");
    assert_eq!(barcodes("pork-pie"), ["4006381333931"]);
}

macro_rules! barcode_read_model_contract {
    ($adapter:ident, $make:expr) => {
        mod $adapter {
            use super::*;
            barcode_read_model_contract!(@cases $make; inventory_filters_by_barcode,
                a_moved_barcode_finds_its_new_product);
        }
    };
    (@cases $make:expr; $($case:ident),*) => {
        $(
            #[tokio::test]
            async fn $case() {
                #[allow(unused_variables)]
                let Some((model, guard)) = ($make) else { return };
                super::$case(model).await;
            }
        )*
    };
}

mod read_model {
    use super::*;
    barcode_read_model_contract!(sqlite, {
        let (model, dir) = crate::support::sqlite_read_model();
        Some((model as Arc<dyn ReadModel>, Some(dir)))
    });
    barcode_read_model_contract!(elasticsearch, {
        crate::support::elastic_read_model().await.map(|m| (m as Arc<dyn ReadModel>, None::<tempfile::TempDir>))
    });
}
