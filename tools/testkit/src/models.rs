//! Both models as tests compare them: every item stream as (stream, quantity, version), sorted.

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
            Aggregate::Product(_) | Aggregate::Location(_) => None,
        })
        .collect();
    items.sort();
    items
}

/// Every item of the read model through `GET /api/inventory` of the app at `base`, as (stream, quantity,
/// version), sorted; one page must hold them all, or the comparison would miss some.
pub async fn read_items(http: &reqwest::Client, base: &str) -> Vec<(String, i64, u64)> {
    let response = http.get(format!("{base}/api/inventory?limit=500")).send().await.expect("inventory answered");
    let body: serde_json::Value = response.json().await.expect("inventory as JSON");
    let listed = body["items"].as_array().unwrap_or_else(|| panic!("inventory: {body}"));
    assert!(listed.len() < 500 && body["nextCursor"].is_null(), "one page holds every item");
    let mut items: Vec<_> = listed
        .iter()
        .map(|i| {
            let stream = format!("{}/{}", i["location"].as_str().unwrap(), i["sku"].as_str().unwrap());
            (stream, i["quantity"].as_i64().unwrap(), i["version"].as_u64().unwrap())
        })
        .collect();
    items.sort();
    items
}
