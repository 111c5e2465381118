//! Ready before connected: the Functions host polls `GET /` every 25 ms and gives a starting handler 30 s
//! (`HttpWorkerOptions.InitializationTimeout`; `docs/protocol/functions-custom-handler.md` §1), restarting it
//! after that. So the listener is bound and answers the probe first, and the app is wired behind it: a back end
//! that is slow to answer delays requests, never the instance's start.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use tokio::sync::watch;
use tower::ServiceExt;

use super::Problem;

/// How long a request that arrived while the app was being wired waits for it before a 503 with
/// `Retry-After` (well under the front end's 230 s, and past any back end's connect timeout).
const WAIT_FOR_APP: Duration = Duration::from_secs(30);

/// Serves `listener` until `shutdown` completes: `GET /` is answered at once while `app` is still being built,
/// every other request waits for it. An error building the app ends serving with that error (the process then
/// exits non-zero and the host starts it again).
pub async fn serve<E>(
    listener: tokio::net::TcpListener,
    app: impl Future<Output = Result<Router, E>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError<E>> {
    let (ready, app_router) = watch::channel(None);
    let gate = Router::new().fallback(gate).with_state(app_router);
    let server = tokio::spawn(async move { axum::serve(listener, gate).with_graceful_shutdown(shutdown).await });
    match app.await {
        Ok(router) => {
            ready.send_replace(Some(router));
        }
        Err(error) => {
            server.abort();
            return Err(ServeError::App(error));
        }
    }
    match server.await {
        Ok(served) => served.map_err(ServeError::Io),
        Err(join) => Err(ServeError::Io(std::io::Error::other(join))),
    }
}

/// Why serving stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError<E> {
    #[error(transparent)]
    App(E),
    #[error("serving: {0}")]
    Io(#[source] std::io::Error),
}

/// The readiness probe's answer until the app is there; everything else (the probe too, afterwards) goes to it.
async fn gate(State(mut app): State<watch::Receiver<Option<Router>>>, request: Request) -> Response {
    if app.borrow().is_none() && request.uri().path() == "/" {
        return "starting".into_response();
    }
    let router = match tokio::time::timeout(WAIT_FOR_APP, app.wait_for(Option::is_some)).await {
        Ok(Ok(router)) => router.clone(),
        _ => None,
    };
    match router {
        Some(router) => router.oneshot(request).await.into_response(),
        None => Problem::unavailable(&"the handler is still starting").into_response(),
    }
}
