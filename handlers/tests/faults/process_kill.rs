//! Scenario 5, crash safety: the real `handler` binary killed with SIGKILL under load at moments chosen by the
//! seed (after so many acknowledged commands), restarted on the same data directory, several times.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::future::join_all;
use pieshop_testkit::process::{Standalone, embedded_command};
use rand::Rng;
use serde_json::Value;
use tokio::sync::watch;

use crate::harness::{read_items, summary_totals};
use crate::ledger::{Cmd, Ledger, command_id};
use crate::seed;

const DEFAULT_SEED: u64 = 5_005;
const CLIENTS: usize = 6;
const PER_CLIENT: usize = 50;
const KILLS: usize = 8;
const LOCATIONS: [&str; 4] = ["store-1", "store-2", "back-room", "van"];
const SKUS: [&str; 2] = ["apple-pie", "pork-pie"];
/// Opening stock per item: more than all transfers together can take, so none is refused in any order.
const OPENING: u32 = 2_000;

/// The handler on the embedded default (whatever this shell exports: CI exports the engines' URLs).
fn handler(dir: &Path) -> Command {
    let mut command = embedded_command(env!("CARGO_BIN_EXE_handler"));
    command
        .env("PIESHOP_DATA_DIR", dir)
        .env("PIESHOP_RELAY_MIN_AGE_MS", "0")
        .env("PIESHOP_RELAY_INTERVAL_MS", "100")
        .env("RUST_LOG", "info")
        .env_remove("FUNCTIONS_CUSTOMHANDLER_PORT");
    command
}

/// Starts the server on a free port and waits (with a deadline) for the line it logs once it listens.
/// Dropped, it is killed (SIGKILL).
async fn start_server(dir: &Path) -> Standalone {
    let mut server = Standalone::spawn(handler(dir).stdout(Stdio::piped()).stderr(Stdio::null()), "127.0.0.1");
    let stdout = server.process.child().stdout.take().unwrap();
    let (ready, listening) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Reads every line (the pipe must never fill up) and says when the server listens.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("dashboard") {
                let _ = ready.send(());
            }
        }
    });
    let started = tokio::task::spawn_blocking(move || listening.recv_timeout(Duration::from_secs(30))).await.unwrap();
    assert!(started.is_ok(), "the server did not start listening within 30 s");
    server
}

/// `handler <operator command>` on the data directory, as an operator runs it beside the live server.
fn operator(dir: &Path, subcommand: &str) -> (bool, String) {
    let output = handler(dir).arg(subcommand).env("RUST_LOG", "warn").output().unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The server a client should talk to now, and how many restarts preceded it.
type Current = (u64, String);

/// Sends one command until it is answered, retrying with the same `commandId`: after the restart when no
/// answer came back, after a backoff on 503. Returns the answer's status and whether it had to retry.
async fn send_until_answered(
    http: &reqwest::Client,
    current: &mut watch::Receiver<Current>,
    body: &Value,
) -> (String, bool) {
    let mut retried = false;
    for attempt in 1..=50u64 {
        let (generation, base) = current.borrow().clone();
        let answered = match http.post(format!("{base}/api/commands")).json(body).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                response.json::<Value>().await.ok().map(|body| (status, body))
            }
            Err(_) => None,
        };
        match answered {
            Some((200, answer)) => return (answer["status"].as_str().unwrap_or_default().to_owned(), retried),
            Some((503, _)) => tokio::time::sleep(Duration::from_millis(10 * attempt)).await, // client backoff
            Some((status, answer)) => panic!("{body}: unexpected {status} {answer}"),
            None => {
                // No answer: the server was killed (then retry on the restarted one), or the connection failed
                // for another reason (then, once no restart comes, retry on the same server).
                let _ = tokio::time::timeout(Duration::from_secs(5), current.wait_for(|(g, _)| *g > generation)).await;
            }
        }
        retried = true;
    }
    panic!("{body}: never answered in 50 attempts");
}

/// Each client's commands: receives, and transfers between locations (never more than the opening stock).
fn client_commands(rng: &mut rand::rngs::StdRng) -> Vec<(String, Cmd)> {
    (0..PER_CLIENT)
        .map(|_| {
            let (location, sku) =
                (LOCATIONS[rng.random_range(0..4)].to_owned(), SKUS[rng.random_range(0..2)].to_owned());
            let cmd = if rng.random_bool(0.5) {
                Cmd::Receive { location, sku, quantity: rng.random_range(1..=20) }
            } else {
                let to = LOCATIONS.iter().filter(|l| **l != location).nth(rng.random_range(0..3)).unwrap().to_string();
                Cmd::Transfer { from: location, to, sku, quantity: rng.random_range(1..=10) }
            };
            (command_id(rng), cmd)
        })
        .collect()
}

/// Concurrent clients send receives and transfers while the server is killed with SIGKILL after a
/// seed-chosen number of acknowledged commands and restarted on the same data directory, several times;
/// clients retry what went unanswered with the same `commandId` (a retry may be a replay). In the end the
/// relay has completed every transfer and published every event: `handler verify` finds no difference,
/// and every item holds exactly the stock the commands computed (nothing lost, nothing applied twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_killed_under_load_loses_and_doubles_nothing_after_restarts() {
    let seed = seed::scenario_seed("process_kill", "embedded", DEFAULT_SEED);
    let mut rng = seed::rng(seed, 1);
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let mut server = start_server(dir.path()).await;
    let (restarts, current) = watch::channel::<Current>((0, server.base.clone()));

    let mut ledger = Ledger::default();
    for (location, sku) in LOCATIONS.iter().flat_map(|l| SKUS.iter().map(move |s| (*l, *s))) {
        let opening = Cmd::Receive { location: location.into(), sku: sku.into(), quantity: OPENING };
        let (status, _) = send_until_answered(&http, &mut current.clone(), &opening.body(&command_id(&mut rng))).await;
        assert_eq!(status, "applied");
        ledger.apply(&opening);
    }
    let plans: Vec<Vec<(String, Cmd)>> =
        (0..CLIENTS).map(|c| client_commands(&mut seed::rng(seed, 10 + c as u64))).collect();
    for (_, cmd) in plans.iter().flatten() {
        ledger.apply(cmd);
    }
    let total = CLIENTS * PER_CLIENT;
    let started = Instant::now();
    let mut kill_points: Vec<usize> = (0..KILLS).map(|_| rng.random_range(total / 10..total * 9 / 10)).collect();
    kill_points.sort();
    println!("kills after {kill_points:?} of {total} acknowledged commands");

    let acknowledged = watch::channel(0usize);
    let duplicates = AtomicUsize::new(0);
    let retried = AtomicUsize::new(0);
    let clients = plans.iter().map(|plan| {
        let (http, mut current, acknowledged, duplicates, retried) =
            (&http, current.clone(), &acknowledged.0, &duplicates, &retried);
        async move {
            for (id, cmd) in plan {
                let (status, was_retried) = send_until_answered(http, &mut current, &cmd.body(id)).await;
                acknowledged.send_modify(|n| *n += 1);
                match (status.as_str(), was_retried) {
                    ("applied" | "adjusted", _) => {}
                    ("duplicate", true) => _ = duplicates.fetch_add(1, Ordering::Relaxed),
                    (other, _) => panic!("{cmd:?} {id}: answered {other:?} (retried: {was_retried})"),
                }
                if was_retried {
                    retried.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    });
    let mut acknowledged_so_far = acknowledged.0.subscribe();
    let killer = async {
        for &point in &kill_points {
            acknowledged_so_far.wait_for(|n| *n >= point).await.unwrap();
            server.process.kill(); // SIGKILL
            server = start_server(dir.path()).await;
            restarts.send_modify(|(generation, base)| (*generation, *base) = (*generation + 1, server.base.clone()));
        }
    };
    let ((), _) = tokio::join!(killer, join_all(clients));
    assert_eq!(restarts.borrow().0, KILLS as u64, "every kill happened");
    println!(
        "{total} commands acknowledged in {:?}; {} retried after a kill, {} of them answered as replays",
        started.elapsed(),
        retried.load(Ordering::Relaxed),
        duplicates.load(Ordering::Relaxed)
    );

    // The relay (every 100 ms in the server) completes pending transfers and republishes what a kill left
    // unpublished: wait until an operator's relay pass finds nothing left, verify finds no drift, and the
    // read model holds at least every version the commands made.
    let expected = ledger.items();
    let base = server.base.clone();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (relay_ok, relay) = operator(dir.path(), "relay");
        let (verify_ok, verify) = operator(dir.path(), "verify");
        let response = http.get(format!("{base}/api/inventory?limit=500")).send().await.unwrap();
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        let read = read_items(&http, &base).await;
        let caught_up =
            read.len() == expected.len() && read.iter().zip(&expected).all(|(r, e)| r.0 == e.0 && r.2 >= e.2);
        let idle = relay_ok && relay.contains("republished 0 events, completed 0 transfers, 0 still failing");
        if idle && verify_ok && verify.contains("verify: 0 difference(s)") && caught_up {
            println!("converged {:?} after the start of the load", started.elapsed());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never converged (seed {seed}):\n{relay}\n{verify}\nread model: {read:?}\nexpected: {expected:?}"
        );
        http.get(format!("{base}/api/inventory?limit=500&waitForChange={etag}&timeout=1")).send().await.unwrap();
    }
    assert_eq!(
        read_items(&http, &base).await,
        expected,
        "exact stock per item: nothing lost, nothing doubled (seed {seed})"
    );
    let totals: std::collections::BTreeMap<String, u64> = ledger.totals().into_iter().filter(|(_, t)| *t > 0).collect();
    assert_eq!(summary_totals(&http, &base).await, totals, "totals per sku (seed {seed})");
}
