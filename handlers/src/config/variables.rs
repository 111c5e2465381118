//! Every setting pieshop reads, documented once: each is an environment variable named like the Azure app
//! setting that bicep creates (and a flag of the same meaning). `handler --help` prints this list, and a test
//! holds README's Configuration table and `local.settings.json.example` to it. `Settings` reads values only
//! through `Variables::values`, so a variable missing here cannot be read at all.

use std::collections::HashMap;

use clap::{ArgMatches, Args, Command};

/// The environment, as clap reads it (flags win over variables; empty values count as unset).
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Settings (environment variables, named like the Azure app settings)")]
pub struct Variables {
    /// Set by the Functions host: listen on 127.0.0.1:<port> for it. Unset: standalone.
    #[arg(long, env = "FUNCTIONS_CUSTOMHANDLER_PORT", value_name = "PORT")]
    functions_customhandler_port: Option<String>,
    /// Set by App Service when its authentication (Easy Auth) is on: under the Functions host the caller of a
    /// command is then the principal it signed in (X-MS-CLIENT-PRINCIPAL-NAME). Never trusted standalone.
    #[arg(long, env = "WEBSITE_AUTH_ENABLED", value_name = "BOOL")]
    website_auth_enabled: Option<String>,
    /// Standalone address, host:port or a port [default: 127.0.0.1:7071].
    #[arg(long, env = "PIESHOP_LISTEN", value_name = "ADDR")]
    listen: Option<String>,
    /// Standalone function keys, name=key pairs comma-separated (keys of 16 characters or more). Required on an
    /// address other than loopback; ignored under the host, which checks its own keys.
    #[arg(long, env = "PIESHOP_API_KEYS", value_name = "KEYS", hide_env_values = true)]
    api_keys: Option<String>,
    /// The embedded databases (write.db, read.db) [default: ./.pieshop].
    #[arg(long, env = "PIESHOP_DATA_DIR", value_name = "DIR")]
    data_dir: Option<String>,
    /// text or json: how log lines are written [default: json under the Functions host, text standalone].
    #[arg(long, env = "PIESHOP_LOG_FORMAT", value_name = "FORMAT")]
    log_format: Option<String>,
    /// Export traces and metrics over OTLP/HTTP to this base URL (…/v1/traces, …/v1/metrics). Unset: none.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", value_name = "URL")]
    otel_exporter_otlp_endpoint: Option<String>,
    /// Send requests, dependencies, traces and metrics to this Application Insights resource. Unset: none.
    #[arg(
        long,
        env = "APPLICATIONINSIGHTS_CONNECTION_STRING",
        value_name = "CONNECTION_STRING",
        hide_env_values = true
    )]
    applicationinsights_connection_string: Option<String>,
    /// `Authorization=AAD[;ClientId=<id>]`: upload to Application Insights with an Entra token (managed identity).
    #[arg(long, env = "APPLICATIONINSIGHTS_AUTHENTICATION_STRING", value_name = "AUTH")]
    applicationinsights_authentication_string: Option<String>,
    /// Standalone relay period in milliseconds [default: 1000].
    #[arg(long, env = "PIESHOP_RELAY_INTERVAL_MS", value_name = "MS")]
    relay_interval_ms: Option<String>,
    /// The relay leaves events younger than this (ms) to their command's own publish [default: 2000].
    #[arg(long, env = "PIESHOP_RELAY_MIN_AGE_MS", value_name = "MS")]
    relay_min_age_ms: Option<String>,
    /// Days a command's marker (Cosmos DB: and claim) is kept, so a retry gets the first answer [default: 30].
    #[arg(long, env = "PIESHOP_IDEMPOTENCY_DAYS", value_name = "DAYS")]
    idempotency_days: Option<String>,
    /// allow or refuse: whether a live command may name a location nobody defined (or one retired); records are
    /// never refused for it, only flagged `unknownLocation` [default: allow].
    #[arg(long, env = "PIESHOP_UNKNOWN_LOCATIONS", value_name = "POLICY")]
    unknown_locations: Option<String>,
    /// Write store on Cosmos DB at this endpoint. Unset: the embedded write store.
    #[arg(long, env = "COSMOS_ENDPOINT", value_name = "URL")]
    cosmos_endpoint: Option<String>,
    /// Cosmos DB database [default: pieshop].
    #[arg(long, env = "COSMOS_DATABASE", value_name = "NAME")]
    cosmos_database: Option<String>,
    /// Cosmos DB container, partition key /pk [default: inventory].
    #[arg(long, env = "COSMOS_CONTAINER", value_name = "NAME")]
    cosmos_container: Option<String>,
    /// Cosmos DB region to prefer [default: REGION_NAME, else East US].
    #[arg(long, env = "COSMOS_REGION", value_name = "REGION")]
    cosmos_region: Option<String>,
    /// Set by the Functions host: the app's region (COSMOS_REGION's fallback).
    #[arg(long, env = "REGION_NAME", value_name = "REGION")]
    region_name: Option<String>,
    /// Cosmos DB account key, for emulators only; managed identity otherwise.
    #[arg(long, env = "COSMOS_KEY", value_name = "KEY", hide_env_values = true)]
    cosmos_key: Option<String>,
    /// Event publisher on this Event Grid topic endpoint. Unset: in-process delivery to the projection.
    #[arg(long, env = "EVENTGRID_TOPIC_ENDPOINT", value_name = "URL")]
    eventgrid_topic_endpoint: Option<String>,
    /// Event Grid topic key, only where the topic allows local auth; an Entra token otherwise.
    #[arg(long, env = "EVENTGRID_TOPIC_KEY", value_name = "KEY", hide_env_values = true)]
    eventgrid_topic_key: Option<String>,
    /// cloudevents or eventgrid: the schema events are published in [default: cloudevents].
    #[arg(long, env = "EVENTGRID_SCHEMA", value_name = "SCHEMA")]
    eventgrid_schema: Option<String>,
    /// Read model on Elasticsearch at this URL. Unset: the embedded read model.
    #[arg(long, env = "ELASTICSEARCH_URL", value_name = "URL")]
    elasticsearch_url: Option<String>,
    /// Elasticsearch API key (encoded form).
    #[arg(long, env = "ELASTICSEARCH_API_KEY", value_name = "KEY", hide_env_values = true)]
    elasticsearch_api_key: Option<String>,
    /// Prefix of the read model's indices [default: pieshop].
    #[arg(long, env = "ELASTICSEARCH_INDEX_PREFIX", value_name = "PREFIX")]
    elasticsearch_index_prefix: Option<String>,
    /// Answer cache on Redis at this URL (may hold a password). Unset: in-process, where that is safe.
    #[arg(long, env = "REDIS_URL", value_name = "URL", hide_env_values = true)]
    redis_url: Option<String>,
    /// For Entra auth to Redis: the identity's object id (the password is then a token).
    #[arg(long, env = "REDIS_USERNAME", value_name = "ID")]
    redis_username: Option<String>,
    /// Prefix of every Redis key, keeping deployments that share a Redis apart [default: the index prefix].
    #[arg(long, env = "REDIS_KEY_PREFIX", value_name = "PREFIX")]
    redis_key_prefix: Option<String>,
    /// Live push through this Azure SignalR Service (Serverless, managed identity), e.g.
    /// https://<name>.service.signalr.net. Unset: the handler is the hub itself.
    #[arg(long, env = "AZURE_SIGNALR_ENDPOINT", value_name = "URL")]
    azure_signalr_endpoint: Option<String>,
    /// The user-assigned managed identity every Azure adapter uses [default: the system identity in Azure,
    /// the developer's az login elsewhere].
    #[arg(long, env = "AZURE_CLIENT_ID", value_name = "ID")]
    azure_client_id: Option<String>,
    /// `handler deadletters` on a container URL: a SAS token for it, for the storage emulator (Azurite) only;
    /// in Azure the managed identity or `az login` signs in (Storage Blob Data Contributor).
    #[arg(long, env = "PIESHOP_DEADLETTER_SAS", value_name = "SAS", hide_env_values = true)]
    pieshop_deadletter_sas: Option<String>,
}

impl Variables {
    /// The values clap found, by variable name (empty ones left out).
    pub fn values(matches: &ArgMatches) -> HashMap<String, String> {
        let command = Self::augment_args(Command::new("handler"));
        command
            .get_arguments()
            .filter_map(|arg| {
                let name = arg.get_env()?.to_str()?.to_owned();
                let value = matches.try_get_one::<String>(arg.get_id().as_str()).ok().flatten()?;
                (!value.is_empty()).then(|| (name, value.clone()))
            })
            .collect()
    }

    /// Every variable's name.
    pub fn names() -> Vec<String> {
        let command = Self::augment_args(Command::new("handler"));
        command.get_arguments().filter_map(|arg| arg.get_env()?.to_str().map(str::to_owned)).collect()
    }
}
