//! `funchost`: pieshop's deployed shape on one machine. A stand-in for the Azure Functions host (routes,
//! function keys, forwarding, Event Grid and timer invocations, worker supervision) and for Event Grid (a topic,
//! one subscription with retries and dead letters), in front of several handler instances that share one
//! write store (the Cosmos DB SDK's emulator, served over HTTP, or the embedded store) and one read model.
//! A test tool that follows the documented protocol; it is never shipped.

mod app;
mod cosmos;
mod eventgrid;
mod front_door;
mod instances;
mod invoke;
mod keys;
mod route;
mod timer;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The protocol fixtures the handler's tests use too (`handlers/tests/fixtures/host/`).
#[cfg(test)]
fn fixture_text(name: &str) -> String {
    let path = format!("{}/../../handlers/tests/fixtures/host/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).expect("fixture")
}

#[cfg(test)]
fn fixture(name: &str) -> serde_json::Value {
    serde_json::from_str(&fixture_text(name)).expect("fixture JSON")
}

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clap::Parser;
use http::StatusCode;

use crate::app::{App, AuthLevel, HttpMode, Trigger};
use crate::eventgrid::{Grid, Policy};
use crate::front_door::FrontDoor;
use crate::instances::{Instances, Launch};
use crate::keys::Keys;
use crate::timer::Timer;

/// A local stand-in of the Azure Functions host and Event Grid, running the app's handler on N instances.
#[derive(Parser, Debug)]
#[command(name = "funchost", version)]
struct Args {
    /// The app root: host.json and <function>/function.json (a checkout, or an unpacked package zip).
    #[arg(long, default_value = ".")]
    app: PathBuf,
    /// The handler executable (default: host.json's defaultExecutablePath, resolved as the host does).
    #[arg(long, env = "FUNCHOST_HANDLER")]
    handler: Option<PathBuf>,
    /// Handler instances to run.
    #[arg(long, default_value_t = 2)]
    instances: usize,
    /// Where the front door listens (the Functions front end and the Event Grid topic); port 0 picks a free one.
    /// Once every instance is ready, the address is written to <state-dir>/front-door.
    #[arg(long, default_value = "127.0.0.1:7071")]
    listen: std::net::SocketAddr,
    /// Keys file (`{"masterKey", "hostKeys": {name: key}, "functionKeys": {function: {name: key}}}`);
    /// without one, fresh keys are written to <state-dir>/keys.json.
    #[arg(long)]
    keys: Option<PathBuf>,
    /// Keys, dead letters and (unless PIESHOP_DATA_DIR is set) the instances' shared embedded data.
    #[arg(long, default_value = ".funchost")]
    state_dir: PathBuf,
    /// Serve the Cosmos DB SDK's emulator to the instances as their write store (unless COSMOS_ENDPOINT is set).
    #[arg(long)]
    cosmos_emulator: bool,
    /// Event Grid's retry waits and event time to live are divided by this.
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Event Grid's maxDeliveryAttempts (1-30).
    #[arg(long, default_value_t = 30)]
    max_delivery_attempts: u32,
    /// Event Grid's eventTimeToLiveInMinutes (1-1440).
    #[arg(long, default_value_t = 1440)]
    event_ttl_minutes: u64,
    /// Each delivery waits a random 0..=N ms first, so events arrive in any order.
    #[arg(long, default_value_t = 0)]
    jitter_ms: u64,
    /// Chance (0-1) that an event is delivered twice.
    #[arg(long, default_value_t = 0.0)]
    duplicate_rate: f64,
    /// Deliveries in flight at once (Event Grid does not document its own bound).
    #[arg(long, default_value_t = 2048)]
    max_deliveries_in_flight: usize,
    /// The subscription's maxEventsPerBatch (1-5000; 1, Event Grid's default, is one event per delivery).
    #[arg(long, default_value_t = 1)]
    max_events_per_batch: usize,
    /// The subscription's preferredBatchSizeInKilobytes (1-1024).
    #[arg(long, default_value_t = 64)]
    preferred_batch_size_kb: usize,
    /// Be a host that predates `enableProxyingHttpRequest`: it ignores that setting and forwards
    /// (`enableForwardingHttpRequest`), reading each answer whole. Default: a current host, which proxies.
    #[arg(long, env = "FUNCHOST_HOST_WITHOUT_PROXYING")]
    host_without_proxying: bool,
    /// Run timers every N ms instead of on their schedule (0: never; the admin API still runs them).
    #[arg(long)]
    timer_period_ms: Option<u64>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("FUNCHOST_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut app = App::read(&args.app).with_context(|| format!("reading the app at {}", args.app.display()))?;
    if let Some(handler) = &args.handler {
        app.executable = handler.clone();
    }
    std::fs::create_dir_all(&args.state_dir)?;
    let state_dir = args.state_dir.canonicalize()?;
    let keys = match &args.keys {
        Some(path) => Keys::load(path)?,
        None => {
            let keys = Keys::generate(app.functions.iter().map(|f| f.name.as_str()));
            std::fs::write(state_dir.join("keys.json"), serde_json::to_vec_pretty(&keys)?)?;
            keys
        }
    };
    let listener = tokio::net::TcpListener::bind(args.listen).await.context("binding the front door")?;
    let base = format!("http://{}", listener.local_addr()?);
    let topic_key = keys.master_key.clone() + "-topic";
    let Some(mode) = HttpMode::pick(app.proxying, app.forwarding, !args.host_without_proxying) else {
        anyhow::bail!("host.json asks only for enableProxyingHttpRequest, which a host without proxying ignores");
    };
    tracing::info!(mode = mode.name(), "HTTP functions reach the handler this way");

    // App settings every instance gets; what the environment already sets wins (real engines, prefixes).
    let mut settings: BTreeMap<String, String> = BTreeMap::new();
    settings.insert("EVENTGRID_TOPIC_ENDPOINT".into(), format!("{base}/eventgrid/api/events"));
    settings.insert("EVENTGRID_TOPIC_KEY".into(), topic_key.clone());
    settings.insert("PIESHOP_DATA_DIR".into(), state_dir.join("data").display().to_string());
    if args.cosmos_emulator {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = cosmos::serve(listener, "pieshop", "inventory").await?;
        tracing::info!(%endpoint, "Cosmos DB emulator (the SDK's own) served to the instances");
        settings.insert("COSMOS_ENDPOINT".into(), endpoint);
        settings.insert("COSMOS_KEY".into(), "ZnVuY2hvc3QtZW11bGF0b3Ita2V5".into());
    }
    let env: Vec<(String, String)> =
        settings.into_iter().filter(|(name, _)| std::env::var_os(name).is_none()).collect();
    let launch = Launch {
        executable: app.executable.clone(),
        arguments: app.arguments.clone(),
        working_directory: app.working_directory.clone(),
        app_root: app.root.canonicalize()?,
        env,
    };
    let instances = Instances::start(args.instances.max(1), launch).await?;
    let client = reqwest::Client::new();

    let (function, binding, many) = match app.event_grid_functions().next() {
        Some((f, binding, many)) => (Some(f.name.clone()), Some(binding.to_owned()), many),
        None => (None, None, false),
    };
    let grid = Arc::new(Grid {
        key: topic_key,
        subscription: format!("{}-sub", function.clone().unwrap_or_default()),
        function: function.unwrap_or_default(),
        binding: binding.unwrap_or_default(),
        many,
        keys: keys.clone(),
        faults: Mutex::default(),
        policy: Policy {
            time_scale: args.time_scale,
            max_attempts: args.max_delivery_attempts.clamp(1, 30),
            ttl: Duration::from_secs(args.event_ttl_minutes.clamp(1, 1440) * 60),
            jitter: Duration::from_millis(args.jitter_ms),
            duplicate_rate: args.duplicate_rate,
            timeout: Duration::from_secs(30),
            max_events_per_batch: args.max_events_per_batch.clamp(1, 5000),
            preferred_batch_bytes: args.preferred_batch_size_kb.clamp(1, 1024) * 1024,
        },
        dead_letter_dir: state_dir.join("deadletter"),
        instances: instances.clone(),
        client: client.clone(),
        records: Mutex::default(),
        in_flight: Arc::new(tokio::sync::Semaphore::new(args.max_deliveries_in_flight.max(1))),
        pending: Mutex::default(),
        pending_ready: tokio::sync::Notify::new(),
        deliveries: Default::default(),
        invocations: Default::default(),
    });
    tokio::spawn(grid.clone().dispatch());
    let mut timers = BTreeMap::new();
    for function in &app.functions {
        if let Trigger::Timer { binding, schedule, run_on_startup } = &function.trigger {
            let timer = Arc::new(Timer::new(&function.name, binding, schedule)?);
            let period = args.timer_period_ms.map(Duration::from_millis);
            if period != Some(Duration::ZERO) {
                let startup = *run_on_startup;
                tokio::spawn(timer.clone().run_forever(instances.clone(), client.clone(), period, startup));
            }
            timers.insert(function.name.clone(), timer);
        }
    }
    let admin = Arc::new(Admin { keys: keys.clone(), instances: instances.clone(), timers, client: client.clone() });
    let door = Arc::new(FrontDoor { app, keys, instances, client, mode });

    let router = Router::new()
        .route("/eventgrid/api/events", post(eventgrid::publish))
        .route("/funchost/events", get(eventgrid::records))
        .route("/funchost/events/summary", get(eventgrid::summary))
        .route("/funchost/faults", axum::routing::put(eventgrid::set_faults))
        .with_state(grid)
        .merge(
            Router::new()
                .route("/admin/functions/{name}", post(run_function))
                .route("/funchost/instances", get(list_instances))
                .route("/funchost/instances/{index}/kill", post(kill_instance))
                .with_state(admin),
        )
        .fallback(front_door::handle)
        .with_state(door);
    eprintln!(
        "funchost: {} instance(s) ready; front door {base}/api/..., Event Grid topic {base}/eventgrid/api/events",
        args.instances.max(1)
    );
    eprintln!("funchost: keys in {}", args.keys.unwrap_or_else(|| state_dir.join("keys.json")).display());
    // Written last, so whoever waits for it (tests) finds every instance ready and the address actually bound.
    let front_door = state_dir.join("front-door");
    std::fs::write(front_door.with_extension("partial"), &base)?;
    std::fs::rename(front_door.with_extension("partial"), &front_door)?;
    axum::serve(listener, router).with_graceful_shutdown(shutdown()).await?;
    Ok(())
}

/// What the admin API needs.
struct Admin {
    keys: Keys,
    instances: Arc<Instances>,
    timers: BTreeMap<String, Arc<Timer>>,
    client: reqwest::Client,
}

impl Admin {
    fn is_master(&self, request: &Request) -> bool {
        let presented = keys::presented(request.headers(), request.uri().query());
        self.keys.allows("", AuthLevel::Admin, presented.as_deref())
    }
}

/// `POST /admin/functions/<name>` (master key): runs a non-HTTP function now, as the host's admin API does;
/// answers 202 once it ran (500 with the reason if it failed).
async fn run_function(State(admin): State<Arc<Admin>>, Path(name): Path<String>, request: Request) -> Response {
    if !admin.is_master(&request) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let Some(timer) = admin.timers.get(&name) else { return StatusCode::NOT_FOUND.into_response() };
    match timer.run(&admin.instances, &admin.client).await {
        Ok(logs) => (StatusCode::ACCEPTED, axum::Json(serde_json::json!({"logs": logs}))).into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error).into_response(),
    }
}

/// `GET /funchost/instances`.
async fn list_instances(State(admin): State<Arc<Admin>>) -> Response {
    axum::Json(instances::describe(&admin.instances)).into_response()
}

/// `POST /funchost/instances/<n>/kill` (master key): SIGKILL; the instance is restarted as the host would.
async fn kill_instance(State(admin): State<Arc<Admin>>, Path(index): Path<usize>, request: Request) -> Response {
    if !admin.is_master(&request) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    match admin.instances.slots.get(index) {
        Some(slot) => {
            slot.kill();
            StatusCode::ACCEPTED.into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Ctrl-C or SIGTERM; the instances are killed with funchost (`kill_on_drop`).
async fn shutdown() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {},
    }
}
