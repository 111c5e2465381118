//! The `handler` binary: configuration → adapters → serve (wiring only).

use std::process::ExitCode;

use pieshop::app::{self, App};
use pieshop::config::{Access, Settings};
use pieshop::functions::relay::Relay;
use pieshop::host::listen::Mode;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            // Never exit 0 on failure: the Functions host would not restart us.
            ExitCode::from(1)
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    // Any TLS use (Redis over TLS, the Azure SDKs) needs one crypto provider chosen before it starts.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let wiring = app::wire(&settings).await?;
    let app = App::new(wiring, settings.relay_min_age);
    let listener = tokio::net::TcpListener::bind(settings.listen.addr).await?;
    let base = format!("http://{}", listener.local_addr()?);
    if settings.listen.mode == Mode::Standalone {
        Relay::spawn_loop(app.clone(), settings.relay_interval);
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
    app::serve_with(listener, app, settings.access, shutdown_signal()).await?;
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
