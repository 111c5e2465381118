//! The `handler` binary: configuration → adapters → serve, or one operator command (wiring only).

use std::collections::HashMap;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use pieshop::application::{deadletters, operator};
use pieshop::config::variables::Variables;
use pieshop::config::{Access, Settings, TelemetrySettings};
use pieshop::host::listen::Mode;
use pieshop::http::readiness;
use pieshop::telemetry::{self, LogTo};
use pieshop::wiring;

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
    /// List or replay what Event Grid dead-lettered, from a directory or a blob container URL.
    #[command(subcommand)]
    Deadletters(Deadletters),
    /// Print the OpenAPI document the server serves at /api/openapi.json (docs/openapi.json is a copy of it).
    Openapi,
}

/// `handler deadletters ...`: SOURCE is a directory laid out as the container, or its https:// URL.
#[derive(Subcommand)]
enum Deadletters {
    /// Say what each waiting dead-letter blob holds; changes nothing.
    List {
        /// A directory laid out as the dead-letter container, or the container's URL
        /// (https://<account>.blob.core.windows.net/<container>; Entra sign-in, or PIESHOP_DEADLETTER_SAS for Azurite).
        source: String,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Apply every event of every waiting blob through the projection (idempotent), then move each blob
    /// under replayed/ (or unreadable/ when something in it is not a pieshop event); exit 1 if any was. A blob
    /// with an event of a type or data version this release does not read stays in place (exit 1 too).
    Replay {
        /// A directory laid out as the dead-letter container, or the container's URL
        /// (https://<account>.blob.core.windows.net/<container>; Entra sign-in, or PIESHOP_DEADLETTER_SAS for Azurite).
        source: String,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    let values = Variables::values(&matches);
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Openapi = command {
        print!("{}", pieshop::api::openapi::text());
        return ExitCode::SUCCESS;
    }
    let log_to = match command {
        Command::Serve => LogTo::Stdout,
        _ => LogTo::Stderr,
    };
    let telemetry = match TelemetrySettings::from_values(&values)
        .map_err(anyhow::Error::from)
        .and_then(|t| Ok(telemetry::init(t.log_format, log_to, export(&t, &values)?)?))
    {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("handler: {error:#}");
            return ExitCode::from(1);
        }
    };
    let code = match run(command, &values).await {
        Ok(code) => code,
        Err(error) => {
            tracing::error!("{error:#}");
            // Never exit 0 on failure: the Functions host would not restart us.
            ExitCode::from(1)
        }
    };
    telemetry.shutdown();
    code
}

/// Where telemetry goes: OTLP and/or Application Insights (Entra uploads through the app's managed identity).
fn export(settings: &TelemetrySettings, values: &HashMap<String, String>) -> anyhow::Result<telemetry::Export> {
    #[cfg(not(feature = "azure"))]
    let _ = values;
    Ok(telemetry::Export {
        otlp_endpoint: settings.otlp_endpoint.clone(),
        #[cfg(feature = "azure")]
        application_insights: match &settings.application_insights {
            None => None,
            Some(connection_string) => {
                use pieshop::telemetry::application_insights::{Destination, Entra, entra_requested};
                let requested = settings.application_insights_authentication.as_deref().and_then(entra_requested);
                let entra = match requested {
                    None => None,
                    Some(client_id) => {
                        let client_id = client_id.or_else(|| values.get("AZURE_CLIENT_ID").cloned());
                        let credential = pieshop::adapters::azure_identity::credential(client_id.as_deref())?;
                        Some(Entra { credential, runtime: tokio::runtime::Handle::current() })
                    }
                };
                Some(Destination { connection_string: connection_string.expose().to_owned(), entra })
            }
        },
    })
}

async fn run(command: Command, values: &HashMap<String, String>) -> anyhow::Result<ExitCode> {
    let settings = Settings::from_values(values)?;
    // Any TLS use (Redis over TLS, the Azure SDKs) needs one crypto provider chosen before it starts.
    #[cfg(feature = "azure")]
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    // Listing reads only the dead-letter source: it must not need (or touch) the stores.
    if let Command::Deadletters(Deadletters::List { source, json }) = &command {
        return list_dead_letters(source, *json, &settings).await;
    }
    if let Command::Serve = command {
        return serve(settings).await.map(|()| ExitCode::SUCCESS);
    }
    let wiring = wiring::wire(&settings).await?;
    let adapters = wiring.adapters.clone();
    let app = wiring.app_with(settings.relay_min_age, settings.idempotency);
    match command {
        Command::Openapi | Command::Serve => Ok(ExitCode::SUCCESS),
        Command::Verify => {
            let verification = operator::verify(&adapters).await?;
            for difference in &verification.drift {
                println!("drift: {difference}");
            }
            for stream in &verification.in_flight {
                println!("in flight: {stream} (events after the read model's asOf)");
            }
            println!("verify: {} difference(s), {} in flight", verification.drift.len(), verification.in_flight.len());
            Ok(if verification.drift.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
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
            if report.markers_expired > 0 {
                println!("relay: forgot {} command markers past the idempotency window", report.markers_expired);
            }
            Ok(if report.failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Deadletters(Deadletters::List { source, json }) => list_dead_letters(&source, json, &settings).await,
        Command::Deadletters(Deadletters::Replay { source, json }) => {
            let source = wiring::dead_letters(&source, &settings)?;
            let report = deadletters::replay(source.as_ref(), &app.projection).await?;
            print_report(&report, json)?;
            let settled = report.totals.malformed == 0 && report.totals.newer == 0;
            Ok(if settled { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
    }
}

async fn list_dead_letters(source: &str, json: bool, settings: &Settings) -> anyhow::Result<ExitCode> {
    let report = deadletters::list(wiring::dead_letters(source, settings)?.as_ref()).await?;
    print_report(&report, json)?;
    Ok(ExitCode::SUCCESS)
}

fn print_report(report: &deadletters::Report, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        println!("{report}");
    }
    Ok(())
}

/// Binds first and answers the host's readiness probe while the adapters are wired (`http::readiness`).
async fn serve(settings: Settings) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(settings.listen.addr).await?;
    let base = format!("http://{}", listener.local_addr()?);
    let app = async {
        let app = wiring::wire(&settings).await?.app(settings.relay_min_age);
        if settings.listen.mode == Mode::Standalone {
            app.relay.clone().spawn_loop(settings.relay_interval);
        }
        announce(&settings, &base);
        Ok::<_, wiring::OpenError>(wiring::router(app, settings.access.clone()))
    };
    readiness::serve(listener, app, shutdown_signal()).await?;
    Ok(())
}

/// Says where the wired app serves (standalone: its URLs).
fn announce(settings: &Settings, base: &str) {
    if settings.listen.mode == Mode::Standalone {
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
