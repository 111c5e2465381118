//! `loadgen`: measures pieshop from the outside.
//!
//! - `run`: N scanners posting a realistic command mix and M dashboard readers, against a running server.
//! - `coldstart`: exec a server binary until its first 200, repeated; median and p90.
//! - `sqlite-commit-rate`: the raw commit rate of the embedded database at pieshop's durability.
//! - `history`: the cost of an item's kept history (offline records) on a count and a movement.
//! - `chaos`: scanners and readers through funchost under a seeded fault schedule, checked against a ledger.
//! - `hello-server` + `hammer`: the raw HTTP limit of axum on this machine, and a plain GET load to measure it.
//!
//! Every subcommand prints a human-readable report; `--json` adds one JSON object on the last line for scripts.

mod chaos;
mod coldstart;
mod history;
mod raw;
mod run;
mod stats;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "loadgen", about = "Load generator and raw-limit probes for pieshop")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Scanners and dashboard readers against a running pieshop.
    Run(run::RunArgs),
    /// Exec a server binary and time its first 200 on a health path, repeatedly.
    Coldstart(coldstart::ColdstartArgs),
    /// Single-row insert transactions on one SQLite connection (WAL, synchronous=NORMAL).
    SqliteCommitRate(raw::SqliteArgs),
    /// A hello-world axum 0.8 server (the raw HTTP limit).
    HelloServer(raw::HelloArgs),
    /// Plain GET load on one URL: requests/s and latency.
    Hammer(raw::HammerArgs),
    /// A count and a movement on an item keeping 10,000 movements, beside the same on an item keeping none.
    History(history::HistoryArgs),
    /// Scanners and readers through funchost while faults are injected; nothing may be lost or doubled.
    Chaos(chaos::ChaosArgs),
}

fn runtime(threads: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(threads.max(1)).enable_all().build()?)
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Cmd::Run(args) => runtime(args.threads)?.block_on(run::run(args)),
        Cmd::Coldstart(args) => coldstart::coldstart(args),
        Cmd::SqliteCommitRate(args) => raw::sqlite_commit_rate(args),
        Cmd::HelloServer(args) => {
            // The server gets the runtime pieshop gets: tokio's default (one worker per core).
            tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(raw::hello_server(args))
        }
        Cmd::Hammer(args) => runtime(args.threads)?.block_on(raw::hammer(args)),
        Cmd::History(args) => runtime(2)?.block_on(history::history(args)),
        Cmd::Chaos(args) => runtime(2)?.block_on(chaos::chaos(args)),
    }
}
