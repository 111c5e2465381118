//! The `handler` binary: configuration → adapters → serve, or one operator command (wiring only).

use std::collections::HashMap;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use pieshop::application::operator;
use pieshop::config::variables::Variables;
use pieshop::config::{Access, Settings};
use pieshop::functions::App;
use pieshop::host::listen::Mode;
use pieshop::wiring;
use tracing_subscriber::EnvFilter;

/// mimalloc instead of glibc malloc: the command path allocates per request (JSON, rows), and glibc's
/// malloc/free took ~12% of the handler's CPU under load (docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// pieshop's custom handler. With no command it serves: under the Functions host when
/// FUNCTIONS_CUSTOMHANDLER_PORT is set, standalone otherwise. Configuration comes from the environment.
#[derive(Parser)]
#[command(name = "handler", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    variables: Variables,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API, the dashboard and the Functions host routes (the default).
    Serve,
    /// Compare the write model with the read model item by item; exit 1 and list what differs on drift.
    Verify,
    /// Replay every event into a fresh read model, swap it in atomically, and catch up.
    Rebuild,
    /// Run one relay pass: republish unpublished events, complete pending transfers.
    Relay,
    /// Print the OpenAPI document the server serves at /api/openapi.json (docs/openapi.json is a copy of it).
    Openapi,
}

#[tokio::main]
async fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    let values = Variables::values(&matches);
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Openapi = command {
        print!("{}", pieshop::http::openapi::text());
        return ExitCode::SUCCESS;
    }
    match run(command, &values).await {
        Ok(code) => code,
        Err(error) => {
            tracing::error!("{error:#}");
            // Never exit 0 on failure: the Functions host would not restart us.
            ExitCode::from(1)
        }
    }
}

async fn run(command: Command, values: &HashMap<String, String>) -> anyhow::Result<ExitCode> {
    let settings = Settings::from_values(values)?;
    // Any TLS use (Redis over TLS, the Azure SDKs) needs one crypto provider chosen before it starts.
    #[cfg(feature = "azure")]
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let wiring = wiring::wire(&settings).await?;
    let adapters = wiring.adapters.clone();
    let app = wiring.app(settings.relay_min_age);
    match command {
        Command::Openapi => Ok(ExitCode::SUCCESS),
        Command::Serve => serve(settings, app).await.map(|()| ExitCode::SUCCESS),
        Command::Verify => {
            let drift = operator::verify(&adapters).await?;
            for difference in &drift {
                println!("drift: {difference}");
            }
            println!("verify: {} difference(s)", drift.len());
            Ok(if drift.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Rebuild => {
            let events = operator::rebuild(&adapters).await?;
            println!("rebuild: replayed {events} events into a fresh read model and swapped it in");
            Ok(ExitCode::SUCCESS)
        }
        Command::Relay => {
            let report = app.relay.run_once().await?;
            println!(
                "relay: republished {} events, completed {} transfers, {} still failing",
                report.republished, report.transfers_completed, report.failed
            );
            Ok(if report.failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
    }
}

async fn serve(settings: Settings, app: std::sync::Arc<App>) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(settings.listen.addr).await?;
    let base = format!("http://{}", listener.local_addr()?);
    if settings.listen.mode == Mode::Standalone {
        app.relay.clone().spawn_loop(settings.relay_interval);
        tracing::info!(data_dir = %settings.data_dir.display(), "pieshop standalone on the embedded default");
        tracing::info!("dashboard  {base}/");
        tracing::info!("commands   POST {base}/api/commands");
        tracing::info!("inventory  GET  {base}/api/inventory");
        if let Access::Keys(keys) = &settings.access {
            let callers: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
            tracing::info!(?callers, "function key required (x-functions-key header or ?code=)");
        }
    } else {
        tracing::info!(%base, "pieshop custom handler listening for the Functions host");
    }
    wiring::serve_with(listener, app, settings.access, shutdown_signal()).await?;
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut signal) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
