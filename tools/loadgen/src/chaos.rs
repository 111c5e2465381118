//! `loadgen chaos`: scanners and dashboard readers through funchost while faults are injected on a seeded
//! schedule, then a check against the scanners' own ledger (`scripts/chaos.sh` runs it; see there for the shape).
//!
//! Faults, one at a time, every kind once per round in a seeded order: an instance SIGKILLed (funchost restarts it), Elasticsearch frozen (SIGSTOP, then
//! SIGCONT), Redis flushed, Event Grid's answer time cut short (deliveries time out and are retried, maybe onto the
//! other instance) and answered deliveries failed with a 500 (delivered again). A scanner retries a command that
//! got no answer or a 5xx with the same `commandId` until it gets one; its ledger holds each accepted command's
//! effect once. At the end every item of the read model must equal the ledger: short is lost, over is doubled.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::run::{LOCATIONS, SKUS};
use crate::stats::Hist;

#[derive(Args)]
pub struct ChaosArgs {
    /// funchost's front door, e.g. http://127.0.0.1:7071
    pub url: String,
    /// A host key (commands and queries).
    #[arg(long)]
    pub key: String,
    /// The master key (instance kills, delivery faults, the relay).
    #[arg(long)]
    pub master: String,
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Seeds the fault schedule and the scanners' choices (the same seed, the same schedule).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value_t = 8)]
    pub scanners: usize,
    #[arg(long, default_value_t = 2)]
    pub readers: usize,
    /// Handler instances behind funchost.
    #[arg(long, default_value_t = 2)]
    pub instances: usize,
    /// Elasticsearch's process, to freeze and thaw.
    #[arg(long)]
    pub elasticsearch_pid: Option<u32>,
    /// Redis as host:port, to flush (none: the instances run without Redis).
    #[arg(long)]
    pub redis: Option<String>,
    #[arg(long)]
    pub json: bool,
}

/// One kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    InstanceKilled,
    ElasticsearchFrozen,
    RedisFlushed,
    DeliveryTimeouts,
    Delivery5xx,
}

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::InstanceKilled => "instanceKilled",
            Fault::ElasticsearchFrozen => "elasticsearchFrozen",
            Fault::RedisFlushed => "redisFlushed",
            Fault::DeliveryTimeouts => "deliveryTimeouts",
            Fault::Delivery5xx => "delivery5xx",
        }
    }
}

/// The schedule: (seconds from the start, fault, how long it lasts). Faults start from 3 s and stop 10 s before the
/// end, so the run also measures the recovery.
fn schedule(args: &ChaosArgs, rng: &mut StdRng) -> Vec<(Duration, Fault, Duration)> {
    let mut kinds = vec![Fault::InstanceKilled, Fault::DeliveryTimeouts, Fault::Delivery5xx];
    if args.elasticsearch_pid.is_some() {
        kinds.push(Fault::ElasticsearchFrozen);
    }
    if args.redis.is_some() {
        kinds.push(Fault::RedisFlushed);
    }
    let mut at = 3.0;
    let mut plan = Vec::new();
    let last = args.seconds as f64 - 10.0;
    // Every kind once in a seeded order, then again in another: a short run still meets several kinds.
    let mut order = Vec::new();
    while at < last {
        if order.is_empty() {
            order = kinds.clone();
            order.shuffle(rng);
        }
        let fault = order.pop().expect("refilled above");
        let lasts = match fault {
            Fault::InstanceKilled | Fault::RedisFlushed => 0.0,
            _ => rng.random_range(3.0..8.0_f64).min(last - at).max(1.0),
        };
        plan.push((Duration::from_secs_f64(at), fault, Duration::from_secs_f64(lasts)));
        // An instant fault's aftermath is watched for 5 s (`inject`); then a pause before the next.
        at += lasts.max(5.0) + rng.random_range(2.0..5.0);
    }
    plan
}

/// What every task shares.
struct Shared {
    client: reqwest::Client,
    url: String,
    key: String,
    master: String,
    /// Whether a fault is on now (or an instant one happened in the last 5 s).
    faulted: AtomicBool,
    stop: AtomicBool,
    /// Item → stock the accepted commands add up to.
    ledger: Mutex<BTreeMap<(usize, usize), i64>>,
    commands: AtomicU64,
    retries: AtomicU64,
    unexpected: AtomicU64,
    reads: Mutex<[Hist; 2]>,
    read_errors: AtomicU64,
    lags: Mutex<[Hist; 2]>,
    lag_timeouts: AtomicU64,
}

impl Shared {
    fn phase(&self) -> usize {
        usize::from(!self.faulted.load(Ordering::Relaxed))
    }
}

pub async fn chaos(args: ChaosArgs) -> anyhow::Result<()> {
    let mut rng = StdRng::seed_from_u64(args.seed);
    let plan = schedule(&args, &mut rng);
    let shared = Arc::new(Shared {
        client: reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?,
        url: args.url.trim_end_matches('/').to_owned(),
        key: args.key.clone(),
        master: args.master.clone(),
        faulted: AtomicBool::new(false),
        stop: AtomicBool::new(false),
        ledger: Mutex::default(),
        commands: AtomicU64::new(0),
        retries: AtomicU64::new(0),
        unexpected: AtomicU64::new(0),
        reads: Mutex::default(),
        read_errors: AtomicU64::new(0),
        lags: Mutex::default(),
        lag_timeouts: AtomicU64::new(0),
    });
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let scanners: Vec<_> = (0..args.scanners)
        .map(|n| tokio::spawn(scanner(shared.clone(), StdRng::seed_from_u64(args.seed ^ (n as u64 + 1)), deadline)))
        .collect();
    let readers: Vec<_> = (0..args.readers).map(|n| tokio::spawn(reader(shared.clone(), n))).collect();
    let mut faults: BTreeMap<&str, u64> = BTreeMap::new();
    for (at, fault, lasts) in &plan {
        tokio::time::sleep_until((started + *at).into()).await;
        eprintln!("chaos: {:>5.1} s {} for {:.1} s", at.as_secs_f64(), fault.name(), lasts.as_secs_f64());
        shared.faulted.store(true, Ordering::Relaxed);
        inject(&shared, &args, *fault, *lasts, &mut rng).await?;
        *faults.entry(fault.name()).or_default() += 1;
        shared.faulted.store(false, Ordering::Relaxed);
    }
    for scanner in scanners {
        scanner.await?;
    }
    let load_seconds = started.elapsed().as_secs_f64();

    // Drain: every published event acknowledged (or dead-lettered), with the relay offering again whatever an
    // instance committed but did not get published before it died.
    let drain = Instant::now();
    let summary = loop {
        let _ = shared
            .client
            .post(format!("{}/admin/functions/relay", shared.url))
            .header("x-functions-key", &shared.master)
            .json(&json!({"input": ""}))
            .send()
            .await;
        let summary: Value =
            shared.client.get(format!("{}/funchost/events/summary", shared.url)).send().await?.json().await?;
        let settled = summary["acknowledged"].as_u64().unwrap_or(0) + summary["deadLettered"].as_u64().unwrap_or(0);
        if settled >= summary["published"].as_u64().unwrap_or(0) || drain.elapsed() > Duration::from_secs(180) {
            break summary;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    // Then the read model must reach the ledger; what is still short or over at the deadline is lost or doubled.
    let ledger = shared.ledger.lock().await.clone();
    let (lost, doubled) = loop {
        let (lost, doubled) = compare(&shared, &ledger).await?;
        if (lost == 0 && doubled == 0) || drain.elapsed() > Duration::from_secs(240) {
            break (lost, doubled);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let drain_seconds = drain.elapsed().as_secs_f64();
    shared.stop.store(true, Ordering::Relaxed);
    for reader in readers {
        reader.await?;
    }
    let hist = |h: &Hist| json!({"p50_ms": h.ms(0.5), "p99_ms": h.ms(0.99), "max_ms": h.max_ms(), "n": h.len()});
    let reads = shared.reads.lock().await;
    let lags = shared.lags.lock().await;
    let commands = shared.commands.load(Ordering::Relaxed);
    let report = json!({
        "commands": commands,
        "commands_per_s": commands as f64 / load_seconds,
        "retries": shared.retries.load(Ordering::Relaxed),
        "unexpected": shared.unexpected.load(Ordering::Relaxed),
        "faults": faults,
        "lost": lost,
        "doubled": doubled,
        "published": summary["published"],
        "deadLettered": summary["deadLettered"],
        "deliveries": summary["deliveries"],
        "lag": {"duringFaults": hist(&lags[0]), "outsideFaults": hist(&lags[1]),
                "timeouts": shared.lag_timeouts.load(Ordering::Relaxed)},
        "readers": {"duringFaults": hist(&reads[0]), "outsideFaults": hist(&reads[1]),
                    "errors": shared.read_errors.load(Ordering::Relaxed)},
        "drain_s": drain_seconds,
        "seed": args.seed,
    });
    println!(
        "chaos: {commands} commands ({} retries), faults {faults:?}, lost {lost}, doubled {doubled}, drained in {drain_seconds:.1} s",
        shared.retries.load(Ordering::Relaxed)
    );
    println!("chaos: lag during faults {}, outside {}", lags[0].line(), lags[1].line());
    println!("chaos: readers during faults {}, outside {}", reads[0].line(), reads[1].line());
    if args.json {
        println!("{report}");
    }
    if lost > 0 || doubled > 0 {
        anyhow::bail!("{lost} item(s) short of the ledger, {doubled} over it");
    }
    Ok(())
}

/// Injects one fault and, for a lasting one, ends it after `lasts`.
async fn inject(
    shared: &Shared,
    args: &ChaosArgs,
    fault: Fault,
    lasts: Duration,
    rng: &mut StdRng,
) -> anyhow::Result<()> {
    let faults = |body: Value| {
        shared
            .client
            .put(format!("{}/funchost/faults", shared.url))
            .header("x-functions-key", &shared.master)
            .json(&body)
            .send()
    };
    match fault {
        Fault::InstanceKilled => {
            let instance = rng.random_range(0..args.instances.max(1));
            let url = format!("{}/funchost/instances/{instance}/kill", shared.url);
            shared.client.post(url).header("x-functions-key", &shared.master).send().await?.error_for_status()?;
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        Fault::ElasticsearchFrozen => {
            let pid = args.elasticsearch_pid.expect("scheduled only with a pid").to_string();
            signal("STOP", &pid)?;
            tokio::time::sleep(lasts).await;
            signal("CONT", &pid)?;
        }
        Fault::RedisFlushed => {
            let address = args.redis.clone().expect("scheduled only with Redis");
            tokio::task::spawn_blocking(move || flush_redis(&address)).await??;
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        Fault::DeliveryTimeouts => {
            faults(json!({"timeoutMs": 100})).await?.error_for_status()?;
            tokio::time::sleep(lasts).await;
            faults(json!({})).await?.error_for_status()?;
        }
        Fault::Delivery5xx => {
            faults(json!({"errorRate": 0.3})).await?.error_for_status()?;
            tokio::time::sleep(lasts).await;
            faults(json!({})).await?.error_for_status()?;
        }
    }
    Ok(())
}

/// `FLUSHALL` in RESP, the one Redis command the run needs (no client crate for one line of protocol).
fn flush_redis(address: &str) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    let mut redis = std::net::TcpStream::connect(address)?;
    redis.set_read_timeout(Some(Duration::from_secs(5)))?;
    redis.write_all(b"*1\r\n$8\r\nFLUSHALL\r\n")?;
    let mut reply = [0u8; 5];
    redis.read_exact(&mut reply)?;
    anyhow::ensure!(&reply == b"+OK\r\n", "FLUSHALL answered {:?}", String::from_utf8_lossy(&reply));
    Ok(())
}

fn signal(name: &str, pid: &str) -> anyhow::Result<()> {
    let status = std::process::Command::new("kill").args(["-s", name, pid]).status()?;
    anyhow::ensure!(status.success(), "kill -s {name} {pid} failed");
    Ok(())
}

/// A scanner: receives and sold removals on 60 items, each command sent until it is answered (same commandId).
async fn scanner(shared: Arc<Shared>, mut rng: StdRng, deadline: Instant) {
    while Instant::now() < deadline {
        let item = (rng.random_range(0..LOCATIONS.len()), rng.random_range(0..SKUS.len()));
        let (location, sku) = (LOCATIONS[item.0], SKUS[item.1]);
        let receive = rng.random_bool(0.7);
        let quantity: i64 = if receive { rng.random_range(1..=5) } else { rng.random_range(1..=3) };
        let id = uuid::Uuid::new_v4().to_string();
        let body = if receive {
            json!({"commandId": id, "type": "receive", "location": location, "sku": sku, "quantity": quantity})
        } else {
            json!({"commandId": id, "type": "remove", "location": location, "sku": sku, "quantity": quantity, "reason": "sold"})
        };
        let (status, answer) = loop {
            let sent = shared
                .client
                .post(format!("{}/api/commands", shared.url))
                .header("x-functions-key", &shared.key)
                .json(&body)
                .send()
                .await;
            match sent {
                Ok(response) if !response.status().is_server_error() => {
                    let status = response.status().as_u16();
                    break (status, response.json::<Value>().await.unwrap_or(Value::Null));
                }
                _ => {
                    shared.retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        shared.commands.fetch_add(1, Ordering::Relaxed);
        match status {
            200 => {
                *shared.ledger.lock().await.entry(item).or_default() += if receive { quantity } else { -quantity };
                let version = answer["items"][0]["version"].as_u64();
                if let (Some(version), true) = (version, rng.random_bool(0.05)) {
                    tokio::spawn(follow(shared.clone(), location, sku, version));
                }
            }
            409 if answer["type"] == "urn:pieshop:problem:insufficient-stock" => {}
            _ => {
                shared.unexpected.fetch_add(1, Ordering::Relaxed);
                eprintln!("chaos: unexpected answer {status}: {answer}");
            }
        }
    }
}

/// Follows one accepted command until the read model shows its version: accepted → visible.
async fn follow(shared: Arc<Shared>, location: &str, sku: &str, version: u64) {
    let (accepted, phase) = (Instant::now(), shared.phase());
    let url = format!("{}/api/inventory/{location}/{sku}", shared.url);
    while accepted.elapsed() < Duration::from_secs(60) {
        let shown = match shared.client.get(&url).header("x-functions-key", &shared.key).send().await {
            Ok(response) => response.json::<Value>().await.ok().and_then(|item| item["version"].as_u64()),
            Err(_) => None,
        };
        if shown >= Some(version) {
            shared.lags.lock().await[phase].record(accepted.elapsed());
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shared.lag_timeouts.fetch_add(1, Ordering::Relaxed);
}

/// A dashboard reader: the summary and a page of the inventory, over and over, timed.
async fn reader(shared: Arc<Shared>, n: usize) {
    let paths = ["/api/inventory/summary", "/api/inventory?limit=100"];
    let mut turn = n;
    while !shared.stop.load(Ordering::Relaxed) {
        turn += 1;
        let (started, phase) = (Instant::now(), shared.phase());
        let sent = shared
            .client
            .get(format!("{}{}", shared.url, paths[turn % 2]))
            .header("x-functions-key", &shared.key)
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => {
                let _ = response.bytes().await;
                shared.reads.lock().await[phase].record(started.elapsed());
            }
            _ => {
                shared.read_errors.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Items of the read model short of the ledger, and over it (an item the ledger does not know must hold 0).
async fn compare(shared: &Shared, ledger: &BTreeMap<(usize, usize), i64>) -> anyhow::Result<(u64, u64)> {
    let (mut lost, mut doubled) = (0, 0);
    for (l, location) in LOCATIONS.iter().enumerate() {
        for (s, sku) in SKUS.iter().enumerate() {
            let url = format!("{}/api/inventory/{location}/{sku}", shared.url);
            let response = shared.client.get(&url).header("x-functions-key", &shared.key).send().await?;
            let read = match response.status().as_u16() {
                404 => 0,
                200 => response.json::<Value>().await?["quantity"].as_i64().unwrap_or(0),
                other => anyhow::bail!("{url} answered {other}"),
            };
            let expected = ledger.get(&(l, s)).copied().unwrap_or(0);
            if read < expected {
                lost += 1;
            } else if read > expected {
                doubled += 1;
            }
        }
    }
    Ok((lost, doubled))
}
