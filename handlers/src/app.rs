//! The application: the functions wired to their ports, shared by every route as one state.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::adapters::embedded::{InProcessCache, InProcessPublisher, SqliteReadModel, SqliteWriteStore};
use crate::changes::Changes;
use crate::functions::command::CommandService;
use crate::functions::dispatch::Dispatcher;
use crate::functions::projection::Projection;
use crate::functions::query::QueryService;
use crate::functions::relay::Relay;
use crate::ports::{Adapters, ReadModelError, StoreError};

/// Every function, ready to serve.
pub struct App {
    pub commands: CommandService,
    pub queries: QueryService,
    pub projection: Arc<Projection>,
    pub relay: Relay,
    pub backend: &'static str,
}

/// Adapters plus the projection that consumes their events (built together: in-process delivery needs it).
pub struct Wiring {
    pub adapters: Adapters,
    pub projection: Arc<Projection>,
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
}

/// The embedded default: `write.db` and `read.db` in `data_dir`, in-process cache and delivery.
pub fn embedded(data_dir: &Path) -> Result<Wiring, OpenError> {
    std::fs::create_dir_all(data_dir)
        .map_err(|source| OpenError::DataDir { path: data_dir.display().to_string(), source })?;
    let write_store = Arc::new(SqliteWriteStore::open(&data_dir.join("write.db"))?);
    let read_model = Arc::new(SqliteReadModel::open(&data_dir.join("read.db"))?);
    let cache = Arc::new(InProcessCache::default());
    let projection = Arc::new(Projection::new(read_model.clone(), cache.clone(), Changes::default()));
    let publisher = Arc::new(InProcessPublisher::new(projection.clone()));
    Ok(Wiring {
        adapters: Adapters { write_store, publisher, read_model, cache, backend: "embedded" },
        projection,
    })
}

impl App {
    /// Wires the functions to the adapters. `relay_min_age`: see `Settings::relay_min_age`.
    pub fn new(wiring: Wiring, relay_min_age: Duration) -> Arc<Self> {
        let Wiring { adapters, projection } = wiring;
        let dispatcher = Dispatcher::new(adapters.write_store.clone(), adapters.publisher.clone());
        Arc::new(Self {
            commands: CommandService::new(adapters.write_store.clone(), dispatcher.clone()),
            queries: QueryService::new(adapters.read_model.clone(), adapters.cache.clone(), projection.changes()),
            relay: Relay::new(adapters.write_store.clone(), dispatcher, relay_min_age),
            projection,
            backend: adapters.backend,
        })
    }
}

/// Serves the router on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, crate::http::router::router(app)).with_graceful_shutdown(shutdown).await
}
