//! The Azure settings, as plain values that `wiring` maps onto the adapters' own settings. Each port picks its Azure
//! adapter when its own variable is set (`COSMOS_ENDPOINT`, `EVENTGRID_TOPIC_ENDPOINT`, `ELASTICSEARCH_URL`,
//! `REDIS_URL`), else its embedded one, so a laptop can run, say, real Elasticsearch behind the embedded write store.

use azure_core::credentials::Secret;

use super::ConfigError;
use crate::contract::event_json::Schema;

/// A Cosmos DB container (`COSMOS_*`).
#[derive(Debug, Clone)]
pub struct CosmosConfig {
    pub endpoint: String,
    pub database: String,
    pub container: String,
    /// `COSMOS_REGION`, else the Functions host's `REGION_NAME`.
    pub region: String,
    /// `COSMOS_KEY`: emulators only; Entra otherwise.
    pub key: Option<Secret>,
}

/// An Elasticsearch cluster (`ELASTICSEARCH_*`).
#[derive(Debug, Clone)]
pub struct ElasticConfig {
    pub url: String,
    pub api_key: Option<Secret>,
    pub index_prefix: String,
}

/// A Redis cache (`REDIS_*`).
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// May hold a password.
    pub url: Secret,
    /// `REDIS_USERNAME`: with Entra auth, the identity's object id.
    pub entra_username: Option<String>,
    /// `REDIS_KEY_PREFIX`, else the read model's index prefix.
    pub namespace: String,
}

/// Event Grid topic settings (the credential is chosen at wiring time).
#[derive(Debug, Clone)]
pub struct EventGridConfig {
    pub endpoint: String,
    pub schema: Schema,
    /// `EVENTGRID_TOPIC_KEY`: only where the topic allows local auth; Entra otherwise.
    pub key: Option<Secret>,
}

/// Every Azure setting; `None` means that port stays embedded.
#[derive(Debug, Clone, Default)]
pub struct AzureSettings {
    pub cosmos: Option<CosmosConfig>,
    pub event_grid: Option<EventGridConfig>,
    pub elastic: Option<ElasticConfig>,
    pub redis: Option<RedisConfig>,
    /// `AZURE_SIGNALR_ENDPOINT`: live push through Azure SignalR Service (Serverless) instead of this process's hub.
    pub signalr: Option<String>,
    /// `AZURE_CLIENT_ID`: the user-assigned managed identity to use.
    pub client_id: Option<String>,
    /// `PIESHOP_DEADLETTER_SAS`: a SAS token for the dead-letter container, for the storage emulator only
    /// (`handler deadletters`); Entra otherwise.
    pub dead_letter_sas: Option<Secret>,
}

impl AzureSettings {
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let secret = |name: &str| lookup(name).map(Secret::new);
        let cosmos = lookup("COSMOS_ENDPOINT").map(|endpoint| CosmosConfig {
            endpoint,
            database: lookup("COSMOS_DATABASE").unwrap_or_else(|| "pieshop".into()),
            container: lookup("COSMOS_CONTAINER").unwrap_or_else(|| "inventory".into()),
            region: lookup("COSMOS_REGION").or_else(|| lookup("REGION_NAME")).unwrap_or_else(|| "East US".into()),
            key: secret("COSMOS_KEY"),
        });
        let schema = match lookup("EVENTGRID_SCHEMA").as_deref() {
            None | Some("cloudevents") => Schema::CloudEvents,
            Some("eventgrid") => Schema::EventGrid,
            Some(_) => {
                return Err(ConfigError::Invalid {
                    variable: "EVENTGRID_SCHEMA",
                    expected: "cloudevents or eventgrid",
                });
            }
        };
        let event_grid = lookup("EVENTGRID_TOPIC_ENDPOINT").map(|endpoint| EventGridConfig {
            endpoint,
            schema,
            key: secret("EVENTGRID_TOPIC_KEY"),
        });
        let elastic = lookup("ELASTICSEARCH_URL").map(|url| ElasticConfig {
            url,
            api_key: secret("ELASTICSEARCH_API_KEY"),
            index_prefix: lookup("ELASTICSEARCH_INDEX_PREFIX").unwrap_or_else(|| "pieshop".into()),
        });
        let namespace = lookup("REDIS_KEY_PREFIX")
            .or_else(|| lookup("ELASTICSEARCH_INDEX_PREFIX"))
            .unwrap_or_else(|| "pieshop".into());
        let redis = lookup("REDIS_URL").map(|url| RedisConfig {
            url: Secret::new(url),
            entra_username: lookup("REDIS_USERNAME"),
            namespace,
        });
        let signalr = lookup("AZURE_SIGNALR_ENDPOINT");
        Ok(Self {
            cosmos,
            event_grid,
            elastic,
            redis,
            signalr,
            client_id: lookup("AZURE_CLIENT_ID"),
            dead_letter_sas: secret("PIESHOP_DEADLETTER_SAS"),
        })
    }

    /// Whether any port uses an Azure adapter (reported by `/api/health` as `backend: azure`).
    pub fn any(&self) -> bool {
        self.cosmos.is_some()
            || self.event_grid.is_some()
            || self.elastic.is_some()
            || self.redis.is_some()
            || self.signalr.is_some()
    }
}
