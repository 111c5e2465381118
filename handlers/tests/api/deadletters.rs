//! `handler deadletters list | replay` on a directory laid out as Event Grid's dead-letter container, with the
//! fixture blobs in both schemas (`tests/fixtures/deadletter/README.md`): the real binary, the real projection,
//! the embedded read model.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use pieshop::ports::read_model::InventoryQuery;
use serde_json::Value;

fn fixtures(set: &str) -> PathBuf {
    [env!("CARGO_MANIFEST_DIR"), "tests", "fixtures", "deadletter", set].iter().collect()
}

/// Copies a directory tree (the fixtures are never changed by a test).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Every file under `root`, by `/`-separated relative name, with its bytes.
fn files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let name = path.strip_prefix(root).unwrap().to_str().unwrap().replace('\\', "/");
                out.insert(name, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn deadletters(data: &Path, args: &[&str]) -> Output {
    crate::helpers::handler_command()
        .arg("deadletters")
        .args(args)
        .env("PIESHOP_DATA_DIR", data)
        .env("RUST_LOG", "error")
        .output()
        .unwrap()
}

fn json_report(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", String::from_utf8_lossy(&output.stdout), stderr(output)))
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The embedded read model's items as (stream, quantity, version), read after the binary has exited.
async fn read_model(data: &Path) -> Vec<(String, i64, u64)> {
    let wiring = pieshop::wiring::embedded(data).unwrap();
    let page =
        wiring.adapters.read_model.inventory(&InventoryQuery { limit: 500, ..Default::default() }).await.unwrap();
    let mut items: Vec<_> = page.items.iter().map(|i| (i.key().to_string(), i.quantity.get(), i.version.0)).collect();
    items.sort();
    items
}

fn expected_items() -> Vec<(String, i64, u64)> {
    vec![("store-1/apple-pie".into(), 10, 2), ("store-1/cherry-tart".into(), 10, 2), ("store-2/apple-pie".into(), 5, 1)]
}

#[tokio::test]
async fn list_reports_both_schemas_and_changes_nothing() {
    let work = tempfile::tempdir().unwrap();
    let (container, data) = (work.path().join("container"), work.path().join("data"));
    copy_tree(&fixtures("container"), &container);
    let before = files(&container);

    let output = deadletters(&data, &["list", "--json", container.to_str().unwrap()]);

    assert!(output.status.success(), "{}", stderr(&output));
    let report = json_report(&output);
    assert_eq!(report["totals"]["blobs"], 3);
    assert_eq!(report["totals"]["events"], 6);
    assert_eq!(report["totals"]["readable"], 6);
    assert_eq!(report["totals"]["malformed"], 0);
    // Oldest first: the hour folders are not zero-padded, so 5 comes before 17.
    let names: Vec<&str> = report["blobs"].as_array().unwrap().iter().map(|b| b["name"].as_str().unwrap()).collect();
    assert!(names[0].contains("/2026/11/29/5/") && names[1].contains("/2026/11/29/17/"), "{names:?}");
    let eg = report["blobs"].as_array().unwrap().iter().find(|b| b["name"].as_str().unwrap().contains("-EG/")).unwrap();
    assert_eq!(eg["reasons"]["MaxDeliveryAttemptsExceeded"], 2, "camelCase deadLetterReason read: {eg}");
    assert_eq!(eg["lastOutcomes"]["Probation"], 2, "camelCase lastDeliveryOutcome read: {eg}");
    let batch = &report["blobs"][1];
    assert_eq!(batch["reasons"]["UndeliverableDueToHttpBadRequest"], 3, "lower-case deadletterreason read: {batch}");
    assert_eq!(files(&container), before, "list moved or changed a blob");
    assert!(!data.exists(), "list opened no store: it needs only the dead-letter source");
}

#[tokio::test]
async fn replaying_twice_applies_each_event_once_and_moves_every_blob_aside() {
    let work = tempfile::tempdir().unwrap();
    let (container, data) = (work.path().join("container"), work.path().join("data"));
    copy_tree(&fixtures("container"), &container);
    let originals = files(&container);

    let first = deadletters(&data, &["replay", "--json", container.to_str().unwrap()]);

    assert!(first.status.success(), "{}", stderr(&first));
    let report = json_report(&first);
    assert_eq!(report["totals"]["blobs"], 3);
    assert_eq!(report["totals"]["applied"], 6, "{report}");
    assert_eq!(report["totals"]["alreadyThere"], 0);
    assert_eq!(report["totals"]["movedAside"], 3);
    let moved: BTreeMap<String, Vec<u8>> =
        originals.iter().map(|(n, b)| (format!("replayed/{n}"), b.clone())).collect();
    assert_eq!(files(&container), moved, "every blob moved under replayed/, same path, same bytes, none lost");
    assert_eq!(read_model(&data).await, expected_items());

    let second = deadletters(&data, &["replay", "--json", container.to_str().unwrap()]);

    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(json_report(&second)["totals"]["blobs"], 0, "replayed blobs are not listed again");
    assert_eq!(files(&container), moved);
    assert_eq!(read_model(&data).await, expected_items());

    // The same blobs dead-lettered again (a redelivery, or an operator copying them back): nothing changes.
    copy_tree(&fixtures("container"), &container);
    let again = deadletters(&data, &["replay", container.to_str().unwrap()]);

    assert!(again.status.success(), "{}", stderr(&again));
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(
        text.contains("3 blob(s), 6 event(s): 0 applied, 6 already there, 0 malformed; 3 blob(s) moved aside"),
        "{text}"
    );
    assert_eq!(read_model(&data).await, expected_items());
}

#[tokio::test]
async fn malformed_events_are_reported_and_their_blobs_kept_under_unreadable() {
    let work = tempfile::tempdir().unwrap();
    let (container, data) = (work.path().join("damaged"), work.path().join("data"));
    copy_tree(&fixtures("damaged"), &container);
    let originals = files(&container);

    let output = deadletters(&data, &["replay", "--json", container.to_str().unwrap()]);

    assert_eq!(output.status.code(), Some(1), "malformed events need a person: {}", stderr(&output));
    let report = json_report(&output);
    assert_eq!(report["totals"]["applied"], 1, "the good event beside the bad ones is applied: {report}");
    assert_eq!(report["totals"]["malformed"], 3);
    let blobs = report["blobs"].as_array().unwrap();
    let indexes: Vec<&Value> = blobs[0]["malformed"].as_array().unwrap().iter().map(|m| &m["index"]).collect();
    assert_eq!(indexes, [1, 2], "the foreign event and the broken one, by position");
    assert!(blobs[0]["malformed"][0]["error"].as_str().unwrap().contains("Contoso.Orders.OrderPlaced"));
    assert_eq!(blobs[1]["malformed"][0]["index"], Value::Null, "the cut-short blob, as a whole");
    let kept: BTreeMap<String, Vec<u8>> =
        originals.iter().map(|(n, b)| (format!("unreadable/{n}"), b.clone())).collect();
    assert_eq!(files(&container), kept, "nothing lost: both blobs kept under unreadable/, same bytes");
    assert_eq!(read_model(&data).await, vec![("store-3/plum-pie".into(), 4, 1)]);
}

#[tokio::test]
async fn a_missing_directory_is_an_error_not_an_empty_container() {
    let work = tempfile::tempdir().unwrap();
    let missing = work.path().join("no-such-container");

    let output = deadletters(&work.path().join("data"), &["replay", missing.to_str().unwrap()]);

    assert_eq!(output.status.code(), Some(1));
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), stderr(&output));
    assert!(said.contains("is not a directory"), "{said}");
    assert!(!missing.exists());
}

/// The same replay against a real blob server: Azurite, started by the test, seeded with the fixture blobs
/// under their container names. The handler reaches it with a SAS (the emulator's key; Entra in Azure).
#[cfg(feature = "azure")]
#[tokio::test]
async fn replaying_a_blob_container_in_azurite_moves_each_blob_under_replayed() {
    use azure_core::http::{RequestContent, Url};
    use azure_storage_blob::BlobContainerClient;
    use futures::TryStreamExt;

    let Some(azurite) = crate::azurite::Azurite::start() else { return };
    let sas = azurite.sas();
    let container_url = format!("{}/deadletters", azurite.account_url);
    let signed = Url::parse(&format!("{container_url}?{sas}")).unwrap();
    let container = BlobContainerClient::new(signed, None, None).unwrap();
    container.create(None).await.unwrap();
    let originals = files(&fixtures("container"));
    for (name, bytes) in &originals {
        let mut url = Url::parse(&container_url).unwrap();
        url.path_segments_mut().unwrap().extend(name.split('/'));
        url.set_query(Some(&sas));
        let blob = azure_storage_blob::BlobClient::new(url, None, None).unwrap();
        blob.upload(RequestContent::from(bytes.clone()), None).await.unwrap();
    }
    let blobs = || async {
        let mut found = BTreeMap::new();
        let mut pages = container.list_blobs(None).unwrap();
        while let Some(item) = pages.try_next().await.unwrap() {
            let name = item.name.unwrap();
            let mut url = Url::parse(&container_url).unwrap();
            url.path_segments_mut().unwrap().extend(name.split('/'));
            url.set_query(Some(&sas));
            let blob = azure_storage_blob::BlobClient::new(url, None, None).unwrap();
            let bytes = blob.download(None).await.unwrap().body.collect().await.unwrap();
            found.insert(name, bytes.to_vec());
        }
        found
    };
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let run = |args: &[&str]| {
        crate::helpers::handler_command()
            .arg("deadletters")
            .args(args)
            .arg(&container_url)
            .env("PIESHOP_DATA_DIR", &data)
            .env("PIESHOP_DEADLETTER_SAS", &sas)
            .env("RUST_LOG", "error")
            .output()
            .unwrap()
    };

    let listed = run(&["list", "--json"]);

    assert!(listed.status.success(), "{}{}", String::from_utf8_lossy(&listed.stdout), stderr(&listed));
    assert_eq!(json_report(&listed)["totals"]["readable"], 6);
    assert_eq!(blobs().await, originals, "list changed the container");

    let replayed = run(&["replay", "--json"]);

    assert!(replayed.status.success(), "{}{}", String::from_utf8_lossy(&replayed.stdout), stderr(&replayed));
    let report = json_report(&replayed);
    assert_eq!(report["totals"]["applied"], 6, "{report}");
    assert_eq!(report["source"], container_url, "the SAS is never printed");
    assert!(!String::from_utf8_lossy(&replayed.stdout).contains("sig="));
    let moved: BTreeMap<String, Vec<u8>> =
        originals.iter().map(|(n, b)| (format!("replayed/{n}"), b.clone())).collect();
    assert_eq!(blobs().await, moved, "every blob under replayed/, same bytes, none deleted unread");
    assert_eq!(read_model(&data).await, expected_items());

    let again = run(&["replay", "--json"]);

    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(json_report(&again)["totals"]["blobs"], 0);
    assert_eq!(blobs().await, moved);
    assert_eq!(read_model(&data).await, expected_items());
}

/// The upgrade's second half (the first: `tools/funchost/tests/batches.rs`, where an older release retried a
/// batch holding a data-version-2 event until Event Grid dead-lettered it whole). A blob laid out as funchost and
/// Event Grid write it holds that batch: this release's `handler deadletters replay` applies the two events it
/// reads, leaves the blob in place and exits 1; then a newer reader (this release's projection taught version 2
/// of `StockReceived` by an upcast, as the release that makes version 2 would register it: version 2 here names
/// `quantity` `onHand`) replays the same blob, applies the third event and moves the blob under `replayed/`.
#[tokio::test]
async fn a_newer_reader_applies_what_this_release_left_for_it() {
    use pieshop::adapters::dead_letter_dir::DeadLetterDirectory;
    use pieshop::application::{changes::Changes, deadletters, projection::Projection};
    use pieshop::contract::event_json::{DecodeError, Readers};
    use serde_json::{Map, json};
    use std::sync::Arc;

    let work = tempfile::tempdir().unwrap();
    let (container, data) = (work.path().join("container"), work.path().join("data"));
    let event = |sku: &str, quantity: u64, version: &str| {
        let at = "2026-12-02T21:00:00.000000Z";
        let amount = if version == "2" { "onHand" } else { "quantity" };
        json!({"specversion": "1.0", "id": uuid::Uuid::new_v4().to_string(), "source": "/pieshop/inventory",
               "subject": format!("store-1/{sku}"), "type": "pieshop.StockReceived", "time": at,
               "datacontenttype": "application/json", "dataversion": version,
               "data": {"location": "store-1", "sku": sku, "delta": 1, "amount": 1, "outcome": "applied",
                        amount: quantity, "version": 1, "commandId": uuid::Uuid::new_v4().to_string(),
                        "recordedAt": at},
               "deadletterreason": "MaxDeliveryAttemptsExceeded", "deliveryattempts": 3,
               "lastdeliveryoutcome": "Aborted", "publishtime": at, "lastdeliveryattempttime": at})
    };
    let name = "PROJECTION-SUB/2026/12/2/21/5d2c8f0e-8a47-4f51-9d7b-3c2a1b0e9f8d.json";
    let blob = container.join(name);
    std::fs::create_dir_all(blob.parent().unwrap()).unwrap();
    let batch = json!([event("apple-pie", 4, "1"), event("plum-pie", 6, "2"), event("pear-pie", 8, "1")]);
    std::fs::write(&blob, batch.to_string()).unwrap();

    let older = deadletters(&data, &["replay", "--json", container.to_str().unwrap()]);
    assert_eq!(older.status.code(), Some(1), "{}", stderr(&older));
    let report = json_report(&older);
    assert_eq!((report["totals"]["applied"].as_u64(), report["totals"]["newer"].as_u64()), (Some(2), Some(1)));
    assert!(blob.exists(), "left for a newer release");
    let known = vec![("store-1/apple-pie".to_owned(), 4, 1), ("store-1/pear-pie".to_owned(), 8, 1)];
    assert_eq!(read_model(&data).await, known);

    fn version_2(data: &Map<String, Value>) -> Result<Map<String, Value>, DecodeError> {
        let mut data = data.clone();
        let on_hand = data.remove("onHand").ok_or(DecodeError::BadField { field: "onHand", message: "missing" })?;
        data.insert("quantity".into(), on_hand);
        Ok(data)
    }
    let wiring = pieshop::wiring::embedded(&data).unwrap();
    let readers = Readers::default().with_upcast("pieshop.StockReceived", "2", version_2);
    let newer = Projection::new(wiring.adapters.read_model.clone(), wiring.adapters.cache.clone(), Changes::default())
        .with_readers(readers);
    let source = DeadLetterDirectory::open(&container).unwrap();
    let report = deadletters::replay(&source, &Arc::new(newer)).await.unwrap();
    assert_eq!((report.totals.applied, report.totals.already_there, report.totals.newer), (1, 2, 0), "{report}");
    assert!(!blob.exists() && container.join("replayed").join(name).exists(), "moved under replayed/");
    drop(wiring);
    let mut all = known;
    all.push(("store-1/plum-pie".to_owned(), 6, 1));
    all.sort();
    assert_eq!(read_model(&data).await, all);
}
