//! The app in the test's own process: a [`Wiring`]'s real router on a free 127.0.0.1 port, so a test can reach
//! into the adapters it wired (wrap them in [`crate::faults`], read the write model) while driving HTTP.

use std::sync::Arc;
use std::time::Duration;

use pieshop::adapters::embedded::InProcessPublisher;
use pieshop::application::changes::Changes;
use pieshop::application::projection::Projection;
use pieshop::ports::{Adapters, ReadModel, ResponseCache, WriteStore};
use pieshop::wiring::{self, AppSettings, Live, Wiring};
use tokio::sync::oneshot;

/// A served app; it stops serving when this is dropped.
pub struct Served {
    /// `http://127.0.0.1:<port>`
    pub base: String,
    _shutdown: oneshot::Sender<()>,
}

impl Served {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// Serves `wiring` on 127.0.0.1:0. The background relay is not started (a relay age of zero, no timer): tests
/// run relay passes themselves (`POST /relay`), so nothing happens behind their back.
pub async fn serve(wiring: Wiring) -> Served {
    serve_with(wiring, AppSettings::new(Duration::ZERO)).await
}

/// `serve`, with the use cases built as `settings` ask (e.g. `PIESHOP_UNKNOWN_LOCATIONS=refuse`).
pub async fn serve_with(wiring: Wiring, settings: AppSettings) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    let base = format!("http://{}", listener.local_addr().expect("local address"));
    let (shutdown, stop) = oneshot::channel::<()>();
    tokio::spawn(wiring::serve(listener, wiring.app_for(settings), async move {
        let _ = stop.await;
    }));
    Served { base, _shutdown: shutdown }
}

/// Serves a stand-in (an Event Grid topic, an OTLP receiver: `router`) on 127.0.0.1:0 for the rest of the test,
/// and returns its `http://127.0.0.1:<port>`.
pub async fn stand_in(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    let base = format!("http://{}", listener.local_addr().expect("local address"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    base
}

/// These adapters with the projection they feed, and a push hub of their own.
pub fn wiring(adapters: Adapters, projection: Arc<Projection>) -> Wiring {
    let (live, _) = Live::own_hub();
    Wiring { adapters, projection, live }
}

/// The write store, read model and cache given, with the real projection over the read model fed in-process
/// (the embedded publisher), as the standalone server delivers events.
pub fn in_process(
    write_store: Arc<dyn WriteStore>,
    read_model: Arc<dyn ReadModel>,
    cache: Arc<dyn ResponseCache>,
    backend: &'static str,
) -> Wiring {
    let projection = Arc::new(Projection::new(read_model.clone(), cache.clone(), Changes::default()));
    let publisher = Arc::new(InProcessPublisher::new(projection.clone()));
    wiring(Adapters { write_store, publisher, read_model, cache, backend }, projection)
}
