//! Wiring, the one place that knows every layer: settings → adapters → the application's use cases → the
//! functions' shared state → the router. `main.rs`, the operator commands and the tests all build through it.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::adapters::dead_letter_dir::DeadLetterDirectory;
use crate::adapters::embedded::{InProcessCache, InProcessPublisher, SqliteReadModel, SqliteWriteStore};
use crate::adapters::signalr_hub::{Hub, transport};
use crate::adapters::stream_cache::CachedStreams;
use crate::application::changes::Changes;
use crate::application::commands::CommandService;
use crate::application::dispatch::Dispatcher;
use crate::application::operator::Operator;
use crate::application::projection::Projection;
use crate::application::push_changes::PushChanges;
use crate::application::queries::QueryService;
use crate::application::relay::Relay;
use crate::config::{Access, Settings};
use crate::domain::UnknownLocations;
use crate::functions::{App, OwnHub};
use crate::host::listen::Mode;
use crate::ports::cache::NoCache;
use crate::ports::push::{Negotiator, NoNegotiate, Push};
use crate::ports::{Adapters, DeadLetters, ReadModel, ReadModelError, ResponseCache, StoreError};

/// Adapters plus the projection that consumes their events (built together: in-process delivery needs it).
pub struct Wiring {
    pub adapters: Adapters,
    pub projection: Arc<Projection>,
    pub live: Live,
}

/// Live push: who answers negotiate, and this process's hub when it is one.
#[derive(Clone)]
pub struct Live {
    pub negotiator: Arc<dyn Negotiator>,
    pub hub: Option<Arc<Hub>>,
}

impl Live {
    /// This process is the hub (standalone, and wherever no SignalR Service is configured).
    pub fn own_hub() -> (Self, Option<Arc<dyn Push>>) {
        let hub = Arc::new(Hub::default());
        (Self { negotiator: hub.clone(), hub: Some(hub.clone()) }, Some(hub))
    }

    /// This process's own hub standalone; none under the Functions host, which routes only functions to it.
    fn without_service(settings: &Settings) -> (Self, Option<Arc<dyn Push>>) {
        match settings.listen.mode {
            Mode::Standalone => Self::own_hub(),
            _ => (Self { negotiator: Arc::new(NoNegotiate), hub: None }, None),
        }
    }
}

/// The projection over `read_model`, pushing what it applies through `push` (if any).
fn projection(
    read_model: Arc<dyn ReadModel>,
    cache: Arc<dyn ResponseCache>,
    push: Option<Arc<dyn Push>>,
) -> Arc<Projection> {
    let projection = Projection::new(read_model.clone(), cache, Changes::default());
    Arc::new(match push {
        Some(push) => projection.with_push(PushChanges::new(read_model, push)),
        None => projection,
    })
}

/// The embedded adapters could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot create data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    ReadModel(#[from] ReadModelError),
    #[cfg(feature = "azure")]
    #[error(transparent)]
    Publisher(#[from] crate::ports::PublishError),
    #[cfg(feature = "azure")]
    #[error(transparent)]
    Cache(#[from] crate::ports::cache::CacheError),
    #[error(transparent)]
    DeadLetters(#[from] crate::ports::DeadLetterError),
    #[cfg(feature = "azure")]
    #[error(transparent)]
    Push(#[from] crate::ports::push::PushError),
    #[cfg(feature = "azure")]
    #[error(transparent)]
    Credential(#[from] crate::adapters::azure_identity::CredentialError),
}

/// The embedded default: `write.db` and `read.db` in `data_dir`, in-process cache and delivery, this process the hub.
pub fn embedded(data_dir: &Path) -> Result<Wiring, OpenError> {
    embedded_with(data_dir, Arc::new(InProcessCache::default()), Live::own_hub())
}

fn embedded_with(
    data_dir: &Path,
    cache: Arc<dyn ResponseCache>,
    (live, push): (Live, Option<Arc<dyn Push>>),
) -> Result<Wiring, OpenError> {
    std::fs::create_dir_all(data_dir)
        .map_err(|source| OpenError::DataDir { path: data_dir.display().to_string(), source })?;
    let write_store = Arc::new(CachedStreams::new(SqliteWriteStore::open(&data_dir.join("write.db"))?));
    let read_model: Arc<dyn ReadModel> = Arc::new(SqliteReadModel::open(&data_dir.join("read.db"))?);
    let projection = projection(read_model.clone(), cache.clone(), push);
    let publisher = Arc::new(InProcessPublisher::new(projection.clone()));
    let adapters = Adapters { write_store, publisher, read_model, cache, backend: "embedded" };
    Ok(Wiring { adapters, projection, live })
}

/// Whether this process may keep answers in its own memory. Only its own projection invalidates them, so
/// that is safe only when no other process applies events to the same read model: never under the Functions
/// host (it runs the app on as many instances as it likes, sharing the data), nor with Elasticsearch (every
/// instance shares it). There, without Redis, answers are not cached at all (guarantee 6).
fn local_cache_is_safe(settings: &Settings, shared_read_model: bool) -> bool {
    settings.listen.mode == Mode::Standalone && !shared_read_model
}

/// Chooses each port's adapter from the settings: Azure where its variable is set, embedded otherwise.
#[cfg(feature = "azure")]
pub async fn wire(settings: &Settings) -> Result<Wiring, OpenError> {
    let azure = &settings.azure;
    if !azure.any() {
        return embedded_without_redis(settings);
    }
    use crate::adapters::azure_identity;
    use crate::adapters::cosmos::CosmosWriteStore;
    use crate::adapters::elastic::ElasticReadModel;
    use crate::adapters::eventgrid::{EventGridPublisher, EventGridSettings, TopicAuth};
    use crate::adapters::redis::RedisCache;
    use crate::adapters::signalr_service::SignalRService;
    use crate::ports::{EventPublisher, WriteStore};
    let needs_entra = azure.cosmos.as_ref().is_some_and(|c| c.key.is_none())
        || azure.event_grid.as_ref().is_some_and(|e| e.key.is_none())
        || azure.redis.as_ref().is_some_and(|r| r.entra_username.is_some())
        || azure.signalr.is_some();
    let credential = if needs_entra { Some(azure_identity::credential(azure.client_id.as_deref())?) } else { None };
    let data_dir = || {
        std::fs::create_dir_all(&settings.data_dir)
            .map_err(|source| OpenError::DataDir { path: settings.data_dir.display().to_string(), source })
            .map(|()| settings.data_dir.clone())
    };
    let write_store: Arc<dyn WriteStore> = match &azure.cosmos {
        Some(cosmos) => Arc::new(
            CosmosWriteStore::connect(&cosmos_settings(cosmos), credential.clone())
                .await?
                .with_idempotency_window(settings.idempotency),
        ),
        None => Arc::new(CachedStreams::new(SqliteWriteStore::open(&data_dir()?.join("write.db"))?)),
    };
    let read_model: Arc<dyn ReadModel> = match &azure.elastic {
        Some(elastic) => Arc::new(ElasticReadModel::connect(&elastic_settings(elastic)).await?),
        None => Arc::new(SqliteReadModel::open(&data_dir()?.join("read.db"))?),
    };
    let cache: Arc<dyn ResponseCache> = match &azure.redis {
        Some(redis) => Arc::new(RedisCache::new(&redis_settings(redis), credential.clone())?),
        None if local_cache_is_safe(settings, azure.elastic.is_some()) => Arc::new(InProcessCache::default()),
        None => Arc::new(NoCache),
    };
    let (live, push) = match (&azure.signalr, &credential) {
        (Some(endpoint), Some(credential)) => {
            let service = Arc::new(SignalRService::new(endpoint, credential.clone())?);
            (Live { negotiator: service.clone(), hub: None }, Some(service as Arc<dyn Push>))
        }
        _ => Live::without_service(settings),
    };
    let projection = projection(read_model.clone(), cache.clone(), push);
    let publisher: Arc<dyn EventPublisher> = match (&azure.event_grid, &credential) {
        (Some(topic), credential) => {
            let auth = match (&topic.key, credential) {
                (Some(key), _) => TopicAuth::Key(key.clone()),
                (None, Some(credential)) => TopicAuth::Entra(credential.clone()),
                (None, None) => unreachable!("an Entra credential is created whenever a topic has no key"),
            };
            let settings = EventGridSettings { endpoint: topic.endpoint.clone(), schema: topic.schema, auth };
            Arc::new(EventGridPublisher::new(settings)?)
        }
        (None, _) => Arc::new(InProcessPublisher::new(projection.clone())),
    };
    let adapters = Adapters { write_store, publisher, read_model, cache, backend: "azure" };
    Ok(Wiring { adapters, projection, live })
}

// The adapters' settings from the plain ones `config` read, destructured so that a setting added there and not
// passed on here does not compile.

#[cfg(feature = "azure")]
fn cosmos_settings(config: &crate::config::azure::CosmosConfig) -> crate::adapters::cosmos::CosmosSettings {
    let crate::config::azure::CosmosConfig { endpoint, database, container, region, key } = config.clone();
    crate::adapters::cosmos::CosmosSettings { endpoint, database, container, region, key }
}

#[cfg(feature = "azure")]
fn elastic_settings(config: &crate::config::azure::ElasticConfig) -> crate::adapters::elastic::ElasticSettings {
    let crate::config::azure::ElasticConfig { url, api_key, index_prefix } = config.clone();
    crate::adapters::elastic::ElasticSettings { url, api_key, index_prefix }
}

#[cfg(feature = "azure")]
fn redis_settings(config: &crate::config::azure::RedisConfig) -> crate::adapters::redis::RedisSettings {
    let crate::config::azure::RedisConfig { url, entra_username, namespace } = config.clone();
    crate::adapters::redis::RedisSettings { url, entra_username, namespace }
}

/// Without the `azure` feature every port is embedded.
#[cfg(not(feature = "azure"))]
pub async fn wire(settings: &Settings) -> Result<Wiring, OpenError> {
    embedded_without_redis(settings)
}

/// Every port embedded, with the in-process cache only where it is safe.
fn embedded_without_redis(settings: &Settings) -> Result<Wiring, OpenError> {
    let cache: Arc<dyn ResponseCache> =
        if local_cache_is_safe(settings, false) { Arc::new(InProcessCache::default()) } else { Arc::new(NoCache) };
    embedded_with(&settings.data_dir, cache, Live::without_service(settings))
}

/// The dead-letter source `handler deadletters` reads: a container when `source` is an http(s) URL (with
/// `PIESHOP_DEADLETTER_SAS` for the emulator, the Entra credential otherwise), a directory otherwise.
pub fn dead_letters(source: &str, settings: &Settings) -> Result<Box<dyn DeadLetters>, OpenError> {
    #[cfg(feature = "azure")]
    if source.starts_with("https://") || source.starts_with("http://") {
        use crate::adapters::dead_letter_blob::{ContainerAuth, DeadLetterContainer};
        let auth = match &settings.azure.dead_letter_sas {
            Some(sas) => ContainerAuth::Sas(sas.clone()),
            None => {
                ContainerAuth::Entra(crate::adapters::azure_identity::credential(settings.azure.client_id.as_deref())?)
            }
        };
        return Ok(Box::new(DeadLetterContainer::new(source, auth)?));
    }
    #[cfg(not(feature = "azure"))]
    let _ = settings;
    Ok(Box::new(DeadLetterDirectory::open(Path::new(source))?))
}

/// What the use cases take from the settings.
#[derive(Debug, Clone, Copy)]
pub struct AppSettings {
    /// `Settings::relay_min_age`.
    pub relay_min_age: Duration,
    /// `Settings::idempotency`.
    pub idempotency: Duration,
    /// `Settings::unknown_locations`.
    pub unknown_locations: UnknownLocations,
}

impl AppSettings {
    /// The defaults, with the relay leaving events younger than `relay_min_age` alone.
    pub fn new(relay_min_age: Duration) -> Self {
        Self {
            relay_min_age,
            idempotency: crate::ports::write_store::DEFAULT_IDEMPOTENCY,
            unknown_locations: UnknownLocations::Allow,
        }
    }

    pub fn of(settings: &Settings) -> Self {
        Self {
            relay_min_age: settings.relay_min_age,
            idempotency: settings.idempotency,
            unknown_locations: settings.unknown_locations,
        }
    }
}

impl Wiring {
    /// The use cases over these adapters, as the functions' shared state. `relay_min_age`: see
    /// `Settings::relay_min_age`; every other setting its default.
    pub fn app(self, relay_min_age: Duration) -> Arc<App> {
        self.app_for(AppSettings::new(relay_min_age))
    }

    /// `app`, with markers kept for `idempotency` (`Settings::idempotency`).
    pub fn app_with(self, relay_min_age: Duration, idempotency: Duration) -> Arc<App> {
        self.app_for(AppSettings { idempotency, ..AppSettings::new(relay_min_age) })
    }

    /// The use cases over these adapters, as `settings` ask.
    pub fn app_for(self, settings: AppSettings) -> Arc<App> {
        let AppSettings { relay_min_age, idempotency, unknown_locations } = settings;
        let Wiring { adapters, projection, live } = self;
        let operator = Arc::new(Operator::new(adapters.clone()));
        let store = adapters.write_store;
        let dispatcher = Dispatcher::new(store.clone(), adapters.publisher.clone());
        let commands = Arc::new(
            CommandService::new(store.clone(), store.clone(), dispatcher.clone())
                .with_unknown_locations(unknown_locations),
        );
        Arc::new(App {
            operator,
            queries: QueryService::new(adapters.read_model.clone(), adapters.cache.clone(), projection.changes()),
            relay: Arc::new(
                Relay::new(store.clone(), store.clone(), dispatcher, commands.clone(), relay_min_age)
                    .with_retention(store, idempotency),
            ),
            commands,
            projection,
            backend: adapters.backend,
            negotiator: live.negotiator,
            hub: live.hub.map(|hub| OwnHub { sessions: hub.clone(), routes: transport::routes(hub) }),
        })
    }
}

/// Serves the router on `listener` until `shutdown` completes, open to every caller.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, app, Access::Open, shutdown).await
}

/// Serves the router on `listener` until `shutdown` completes; `access` says whether callers need a key.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    access: Access,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(app, access)).with_graceful_shutdown(shutdown).await
}

/// The router over `app`; `access` says whether callers need a key.
pub fn router(app: Arc<App>, access: Access) -> axum::Router {
    crate::api::router::router(app, access)
}
