//! A Cosmos DB write store on a fresh in-memory emulator: the SDK's own, running its whole request pipeline
//! (ETags, batches, queries, fault injection).

use std::sync::Arc;

use azure_data_cosmos::options::Region;
use azure_data_cosmos::{AccountEndpoint, AccountReference, CosmosClient, CosmosRuntimeBuilder, RoutingStrategy};
use azure_data_cosmos_driver::in_memory_emulator::{
    ConsistencyLevel, InMemoryEmulatorHttpClient, VirtualAccountConfig, VirtualRegion,
};
use pieshop::adapters::cosmos::{CosmosSettings, CosmosWriteStore};

const EMULATOR_URL: &str = "https://eastus.emulator.local";

/// A Cosmos client on a fresh in-memory emulator (the SDK's own, running its whole request pipeline) with
/// the `pieshop` database and `inventory` container (partition key `/pk`), plus optional fault rules.
pub async fn cosmos_client(
    rules: Vec<Arc<azure_data_cosmos_driver::fault_injection::FaultInjectionRule>>,
) -> (CosmosClient, CosmosSettings) {
    let config = VirtualAccountConfig::new(vec![VirtualRegion::new(
        "East US",
        azure_core::http::Url::parse(EMULATOR_URL).unwrap(),
    )])
    .unwrap()
    .with_consistency(ConsistencyLevel::Session);
    let emulator = Arc::new(InMemoryEmulatorHttpClient::new(config));
    emulator.store().create_database("pieshop");
    emulator.store().create_container(
        "pieshop",
        "inventory",
        serde_json::from_value(serde_json::json!({
            "paths": ["/pk"], "kind": "Hash", "version": 2
        }))
        .unwrap(),
    );
    let runtime = CosmosRuntimeBuilder::from(emulator.runtime_builder()).build().await.unwrap();
    let account = AccountReference::with_authentication_key(
        EMULATOR_URL.parse::<AccountEndpoint>().unwrap(),
        azure_core::credentials::Secret::new("dGVzdGtleQ=="),
    );
    let mut builder = CosmosWriteStore::client_builder().with_runtime(runtime);
    if !rules.is_empty() {
        builder = builder.with_fault_injection_rules(rules).unwrap();
    }
    let client = builder.build(account, RoutingStrategy::ProximityTo(Region::EAST_US)).await.unwrap();
    let settings = CosmosSettings {
        endpoint: EMULATOR_URL.into(),
        database: "pieshop".into(),
        container: "inventory".into(),
        region: "East US".into(),
        key: None,
    };
    (client, settings)
}

/// A Cosmos write store on a fresh emulator, without fault rules.
pub async fn cosmos_store() -> Arc<CosmosWriteStore> {
    let (client, settings) = cosmos_client(Vec::new()).await;
    Arc::new(CosmosWriteStore::from_client(&client, &settings).await.unwrap())
}
