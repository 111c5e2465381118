//! Raw limits: the embedded database's commit rate and plain HTTP on axum, without pieshop in the way.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use rusqlite::{Connection, params};
use serde_json::json;

use crate::stats::Hist;

#[derive(Args)]
pub struct SqliteArgs {
    /// How long to commit (seconds).
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Directory for the database (default: a temp dir; use the filesystem pieshop's data dir is on).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Bytes of payload per row (pieshop's event rows are a few hundred bytes).
    #[arg(long, default_value_t = 400)]
    pub row_bytes: usize,
    #[arg(long)]
    pub json: bool,
}

/// Single-row insert transactions on one connection, at pieshop's durability: WAL, synchronous=NORMAL
/// (the pragmas of handlers/src/adapters/embedded/sqlite.rs).
pub fn sqlite_commit_rate(args: SqliteArgs) -> anyhow::Result<()> {
    let temp = tempfile::tempdir()?;
    let dir = args.dir.clone().unwrap_or_else(|| temp.path().to_owned());
    let path = dir.join(format!("commit-rate-{}.db", std::process::id()));
    let result = measure_commits(&path, &args);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let (commits, elapsed, hist) = result?;
    let rate = commits as f64 / elapsed.as_secs_f64();
    println!(
        "sqlite-commit-rate: {commits} single-row transactions in {:.1} s → {rate:.0} commits/s (WAL, synchronous=NORMAL, {} B rows; {} per commit)",
        elapsed.as_secs_f64(),
        args.row_bytes,
        hist.line()
    );
    if args.json {
        println!("{}", json!({"commits": commits, "commits_per_s": rate, "p99_ms": hist.ms(0.99)}));
    }
    Ok(())
}

fn measure_commits(path: &std::path::Path, args: &SqliteArgs) -> anyhow::Result<(u64, Duration, Hist)> {
    let mut conn = Connection::open(path).with_context(|| format!("open {}", path.display()))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;
         CREATE TABLE IF NOT EXISTS events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, body TEXT NOT NULL);",
    )?;
    let body = "x".repeat(args.row_bytes);
    let mut hist = Hist::default();
    let mut commits = 0u64;
    let limit = Duration::from_secs_f64(args.seconds);
    let start = Instant::now();
    while start.elapsed() < limit {
        let t0 = Instant::now();
        let tx = conn.transaction()?;
        tx.prepare_cached("INSERT INTO events (id, body) VALUES (?1, ?2)")?
            .execute(params![uuid::Uuid::new_v4().to_string(), body])?;
        tx.commit()?;
        hist.record(t0.elapsed());
        commits += 1;
    }
    Ok((commits, start.elapsed(), hist))
}

#[derive(Args)]
pub struct HelloArgs {
    #[arg(long, default_value = "127.0.0.1:7080")]
    pub listen: SocketAddr,
}

pub async fn hello_server(args: HelloArgs) -> anyhow::Result<()> {
    async fn hello() -> &'static str {
        "hello, world\n"
    }
    let app = axum::Router::new().route("/", axum::routing::get(hello)).fallback(hello);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!("hello-server listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
            }
        })
        .await?;
    Ok(())
}

#[derive(Args)]
pub struct HammerArgs {
    pub url: String,
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Client runtime worker threads.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    #[arg(long)]
    pub json: bool,
}

/// `connections` closed loops of GET on one URL over keep-alive connections.
pub async fn hammer(args: HammerArgs) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(args.connections).build()?;
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let tasks: Vec<_> = (0..args.connections)
        .map(|_| {
            let (client, stop, url) = (client.clone(), stop.clone(), args.url.clone());
            tokio::spawn(async move {
                let mut hist = Hist::default();
                let mut errors = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let t0 = Instant::now();
                    let ok = match client.get(&url).send().await {
                        Ok(resp) => resp.status().is_success() && resp.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    if ok {
                        hist.record(t0.elapsed());
                    } else {
                        errors += 1;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
                (hist, errors)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs_f64(args.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut hist = Hist::default();
    let mut errors = 0;
    for task in tasks {
        let (h, e) = task.await?;
        hist.add(&h);
        errors += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let rate = hist.len() as f64 / elapsed;
    println!(
        "hammer {}: {} connections, {:.1} s → {rate:.0} req/s, {} , errors {errors}",
        args.url,
        args.connections,
        elapsed,
        hist.line()
    );
    if args.json {
        println!(
            "{}",
            json!({"requests_per_s": rate, "p50_ms": hist.ms(0.5), "p99_ms": hist.ms(0.99), "errors": errors})
        );
    }
    Ok(())
}
