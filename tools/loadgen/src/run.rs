//! `loadgen run`: scanners and dashboard readers against a running pieshop.
//!
//! Scanners are closed loops (a scanner waits for its answer before the next scan), posting a mix that looks like a
//! shop: mostly receive and remove (reason sold), some counts, some transfers. Every command has a fresh UUID.
//! A removal or transfer larger than the stock is `409 insufficient-stock`: an intended rejection, counted apart
//! from errors. A sampled fraction of accepted commands is followed until the read model shows the version the
//! answer reported: that is the projection lag (command answer received → query shows it).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, ValueEnum};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::stats::{Hist, rss_kib};

pub const SKUS: &[&str] = &[
    "apple-pie",
    "pork-pie",
    "custard-tart",
    "scotch-egg",
    "cornish-pasty",
    "steak-pie",
    "cheese-onion-pie",
    "bakewell-tart",
    "sausage-roll",
    "eccles-cake",
    "chicken-mushroom-pie",
    "lemon-meringue-pie",
];
const NAMES: &[&str] = &[
    "Apple Pie",
    "Pork Pie",
    "Custard Tart",
    "Scotch Egg",
    "Cornish Pasty",
    "Steak Pie",
    "Cheese and Onion Pie",
    "Bakewell Tart",
    "Sausage Roll",
    "Eccles Cake",
    "Chicken and Mushroom Pie",
    "Lemon Meringue Pie",
];
pub const LOCATIONS: &[&str] = &["store-1", "store-2", "back-room", "cold-store", "van"];
const SEARCH_WORDS: &[&str] = &["apple", "pork", "cust", "scotch", "egg", "tart", "pie", "sausage", "cake", "lem"];

#[derive(Clone, Copy, ValueEnum)]
pub enum LagMode {
    /// Poll GET /api/inventory/{location}/{sku} every millisecond until it shows the version.
    Poll,
    /// One GET …?minVersion=<version>&timeout=10; done at a 200 without X-Stale.
    MinVersion,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum QueryMix {
    /// The dashboard: summary, inventory pages (per location too), occasional search; all with If-None-Match.
    Dashboard,
    /// Inventory with a random limit, location and lowStock per request: thousands of distinct query strings,
    /// more than the server's response cache keeps, no If-None-Match.
    Distinct,
}

#[derive(Args)]
pub struct RunArgs {
    /// Base URL of the server, e.g. http://127.0.0.1:7071
    pub url: String,
    /// Concurrent scanners (closed loop each).
    #[arg(long, default_value_t = 8)]
    pub scanners: usize,
    /// Concurrent dashboard readers (closed loop each).
    #[arg(long, default_value_t = 0)]
    pub readers: usize,
    /// Run this long (seconds).
    #[arg(long, conflicts_with = "commands")]
    pub seconds: Option<f64>,
    /// Stop after this many commands (readers stop with the scanners).
    #[arg(long)]
    pub commands: Option<u64>,
    /// Fraction of accepted commands followed to measure projection lag.
    #[arg(long, default_value_t = 0.02)]
    pub lag_sample: f64,
    #[arg(long, value_enum, default_value = "poll")]
    pub lag_mode: LagMode,
    /// Pause between a probe's polls (`--lag-mode poll`), in milliseconds: each probe is a client of the system
    /// it measures, so the pause trades resolution for the load the probes add (`lag_polls` counts it).
    #[arg(long, default_value_t = 1)]
    pub lag_poll_ms: u64,
    #[arg(long, value_enum, default_value = "dashboard")]
    pub queries: QueryMix,
    /// Server process id: report its VmRSS (sampled every 500 ms).
    #[arg(long)]
    pub pid: Option<u32>,
    /// Do not define the products first.
    #[arg(long)]
    pub no_setup: bool,
    /// Client runtime worker threads (the client shares the machine with the server).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Also print one JSON object on the last line.
    #[arg(long)]
    pub json: bool,
    /// A function key sent as `x-functions-key` on every request (the deployed shape checks keys).
    #[arg(long)]
    pub key: Option<String>,
}

struct Ctx {
    base: String,
    client: reqwest::Client,
    stop: AtomicBool,
    issued: AtomicU64,
    max_commands: Option<u64>,
    lag_sample: f64,
    lag_mode: LagMode,
    lag_poll: Duration,
    lag: Mutex<LagStats>,
    lag_in_flight: AtomicU64,
    /// Queries the lag probes sent (their own load on the system under test).
    lag_polls: AtomicU64,
}

#[derive(Default)]
struct LagStats {
    hist: Hist,
    timeouts: u64,
    /// Queries the probes sent (their own load on the system under test).
    polls: u64,
}

#[derive(Default)]
struct ScannerStats {
    latency: Hist,
    applied: u64,
    duplicates: u64,
    rejected: u64,
    errors: BTreeMap<String, u64>,
}

#[derive(Default)]
struct ReaderStats {
    latency: Hist,
    ok: u64,
    not_modified: u64,
    errors: BTreeMap<String, u64>,
}

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    if args.seconds.is_none() && args.commands.is_none() {
        anyhow::bail!("give --seconds or --commands");
    }
    if args.commands.is_some() && args.scanners == 0 {
        anyhow::bail!("--commands needs scanners; readers alone run for --seconds");
    }
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(key) = &args.key {
        headers.insert("x-functions-key", reqwest::header::HeaderValue::from_str(key).context("--key")?);
    }
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .pool_max_idle_per_host(args.scanners + args.readers + 64)
        .timeout(Duration::from_secs(30))
        .build()?;
    let ctx = Arc::new(Ctx {
        base: args.url.trim_end_matches('/').to_owned(),
        client,
        stop: AtomicBool::new(false),
        issued: AtomicU64::new(0),
        max_commands: args.commands,
        lag_sample: args.lag_sample.clamp(0.0, 1.0),
        lag_mode: args.lag_mode,
        lag_poll: Duration::from_millis(args.lag_poll_ms),
        lag: Mutex::new(LagStats::default()),
        lag_in_flight: AtomicU64::new(0),
        lag_polls: AtomicU64::new(0),
    });
    let health = ctx.client.get(format!("{}/api/health", ctx.base)).send().await;
    let health = health.with_context(|| format!("server not reachable at {}", ctx.base))?;
    anyhow::ensure!(health.status().is_success(), "health answered {}", health.status());
    if !args.no_setup {
        setup(&ctx).await?;
    }

    let rss_samples = Arc::new(std::sync::Mutex::new(Vec::<u64>::new()));
    let sampler = args.pid.map(|pid| {
        let samples = rss_samples.clone();
        let ctx = ctx.clone();
        tokio::spawn(async move {
            while !ctx.stop.load(Ordering::Relaxed) {
                if let Some(kib) = rss_kib(pid) {
                    samples.lock().unwrap_or_else(|p| p.into_inner()).push(kib);
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            if let Some(kib) = rss_kib(pid) {
                samples.lock().unwrap_or_else(|p| p.into_inner()).push(kib);
            }
        })
    });

    let start = Instant::now();
    if let Some(seconds) = args.seconds {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
            ctx.stop.store(true, Ordering::Relaxed);
        });
    }
    let scanners: Vec<_> = (0..args.scanners).map(|i| tokio::spawn(scanner(ctx.clone(), i))).collect();
    let readers: Vec<_> = (0..args.readers).map(|i| tokio::spawn(reader(ctx.clone(), i, args.queries))).collect();

    let mut writes = ScannerStats::default();
    for handle in scanners {
        let s = handle.await?;
        writes.latency.add(&s.latency);
        writes.applied += s.applied;
        writes.duplicates += s.duplicates;
        writes.rejected += s.rejected;
        merge(&mut writes.errors, s.errors);
    }
    // With --seconds everyone runs to the deadline (even with no scanners); with --commands the readers run
    // until the scanners are done.
    if args.seconds.is_some() {
        while !ctx.stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    ctx.stop.store(true, Ordering::Relaxed);
    let write_elapsed = start.elapsed();
    let mut reads = ReaderStats::default();
    for handle in readers {
        let s = handle.await?;
        reads.latency.add(&s.latency);
        reads.ok += s.ok;
        reads.not_modified += s.not_modified;
        merge(&mut reads.errors, s.errors);
    }
    let elapsed = start.elapsed();
    let lag_deadline = Instant::now() + Duration::from_secs(12);
    while ctx.lag_in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < lag_deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    if let Some(sampler) = sampler {
        let _ = sampler.await;
    }
    let mut lag = ctx.lag.lock().await;
    lag.polls = ctx.lag_polls.load(Ordering::Relaxed);
    let rss = rss_samples.lock().unwrap_or_else(|p| p.into_inner()).clone();

    report(&args, &writes, &reads, &lag, &rss, write_elapsed, elapsed)
}

fn merge(into: &mut BTreeMap<String, u64>, from: BTreeMap<String, u64>) {
    for (k, v) in from {
        *into.entry(k).or_default() += v;
    }
}

fn report(
    args: &RunArgs,
    w: &ScannerStats,
    r: &ReaderStats,
    lag: &LagStats,
    rss: &[u64],
    write_elapsed: Duration,
    elapsed: Duration,
) -> anyhow::Result<()> {
    let commands = w.latency.len();
    let write_errors: u64 = w.errors.values().sum();
    let read_errors: u64 = r.errors.values().sum();
    let cps = commands as f64 / write_elapsed.as_secs_f64();
    let answers = r.latency.len();
    let qps = answers as f64 / elapsed.as_secs_f64();
    println!("loadgen run: {} scanners, {} readers, {:.1} s", args.scanners, args.readers, elapsed.as_secs_f64());
    if args.scanners > 0 {
        println!(
            "  commands   {commands} → {cps:.0} commands/s  (applied {}, duplicate {}, rejected insufficient-stock {}, errors {write_errors})",
            w.applied, w.duplicates, w.rejected
        );
        println!("  latency    {}", w.latency.line());
        let mode = match args.lag_mode {
            LagMode::Poll => "poll every 1 ms",
            LagMode::MinVersion => "minVersion long-poll",
        };
        println!(
            "  projection lag ({} sampled, {mode}): {}  (not visible within 10 s: {})",
            lag.hist.len(),
            lag.hist.line(),
            lag.timeouts
        );
        for (kind, n) in &w.errors {
            println!("  command error {kind}: {n}");
        }
    }
    if args.readers > 0 {
        println!(
            "  queries    {answers} → {qps:.0} answers/s  (200: {}, 304: {}, errors {read_errors})",
            r.ok, r.not_modified
        );
        println!("  latency    {}", r.latency.line());
        for (kind, n) in &r.errors {
            println!("  query error {kind}: {n}");
        }
    }
    let mb = |kib: u64| kib as f64 / 1024.0;
    let (rss_start, rss_mid, rss_end, rss_max) = match rss {
        [] => (0, 0, 0, 0),
        s => (s[0], s[s.len() / 2], s[s.len() - 1], *s.iter().max().unwrap_or(&0)),
    };
    if !rss.is_empty() {
        println!(
            "  server RSS start {:.1} MB, middle {:.1} MB, end {:.1} MB, max {:.1} MB",
            mb(rss_start),
            mb(rss_mid),
            mb(rss_end),
            mb(rss_max)
        );
    }
    if args.json {
        let out = json!({
            "seconds": elapsed.as_secs_f64(),
            "commands": commands, "commands_per_s": cps,
            "applied": w.applied, "duplicates": w.duplicates, "rejected": w.rejected, "errors": write_errors,
            "cmd_p50_ms": w.latency.ms(0.5), "cmd_p99_ms": w.latency.ms(0.99), "cmd_max_ms": w.latency.max_ms(),
            "lag_samples": lag.hist.len(), "lag_p50_ms": lag.hist.ms(0.5), "lag_p99_ms": lag.hist.ms(0.99),
            "lag_max_ms": lag.hist.max_ms(), "lag_timeouts": lag.timeouts, "lag_polls": lag.polls,
            "queries": answers, "queries_per_s": qps, "query_200": r.ok, "query_304": r.not_modified,
            "query_errors": read_errors,
            "query_p50_ms": r.latency.ms(0.5), "query_p99_ms": r.latency.ms(0.99), "query_max_ms": r.latency.max_ms(),
            "rss_start_mb": mb(rss_start), "rss_mid_mb": mb(rss_mid), "rss_end_mb": mb(rss_end), "rss_max_mb": mb(rss_max),
        });
        println!("{out}");
    }
    Ok(())
}

/// Names every product once (not measured), so search finds them.
async fn setup(ctx: &Ctx) -> anyhow::Result<()> {
    for (sku, name) in SKUS.iter().zip(NAMES) {
        let category = if sku.ends_with("tart") || sku.ends_with("cake") { "sweets" } else { "pies" };
        let body = json!({"commandId": uuid::Uuid::new_v4().to_string(), "type": "defineProduct",
            "sku": sku, "name": name, "category": category, "reorderLevel": 10});
        let resp = ctx.client.post(format!("{}/api/commands", ctx.base)).json(&body).send().await?;
        anyhow::ensure!(resp.status().is_success(), "defineProduct {sku} answered {}", resp.status());
    }
    Ok(())
}

/// One scan: receive 45%, remove (sold) 35%, count 10%, transfer 10%.
fn next_command(rng: &mut StdRng, scanner: usize) -> Value {
    let id = uuid::Uuid::new_v4().to_string();
    let sku = SKUS[rng.random_range(0..SKUS.len())];
    let location = LOCATIONS[rng.random_range(0..LOCATIONS.len())];
    let scanner_id = format!("scanner-{scanner}");
    let roll = rng.random_range(0..100);
    if roll < 45 {
        json!({"commandId": id, "type": "receive", "location": location, "sku": sku,
            "quantity": rng.random_range(1..=24), "scannerId": scanner_id})
    } else if roll < 80 {
        json!({"commandId": id, "type": "remove", "location": location, "sku": sku,
            "quantity": rng.random_range(1..=6), "reason": "sold", "scannerId": scanner_id})
    } else if roll < 90 {
        json!({"commandId": id, "type": "count", "location": location, "sku": sku,
            "quantity": rng.random_range(0..=60), "scannerId": scanner_id})
    } else {
        let mut to = LOCATIONS[rng.random_range(0..LOCATIONS.len())];
        while to == location {
            to = LOCATIONS[rng.random_range(0..LOCATIONS.len())];
        }
        json!({"commandId": id, "type": "transfer", "from": location, "to": to, "sku": sku,
            "quantity": rng.random_range(1..=6), "scannerId": scanner_id})
    }
}

async fn scanner(ctx: Arc<Ctx>, index: usize) -> ScannerStats {
    let mut rng = StdRng::from_os_rng();
    let mut stats = ScannerStats::default();
    let url = format!("{}/api/commands", ctx.base);
    loop {
        if ctx.stop.load(Ordering::Relaxed) {
            break;
        }
        if let Some(max) = ctx.max_commands
            && ctx.issued.fetch_add(1, Ordering::Relaxed) >= max
        {
            break;
        }
        let body = serde_json::to_vec(&next_command(&mut rng, index)).expect("json");
        let t0 = Instant::now();
        let sent = ctx.client.post(&url).header("content-type", "application/json").body(body).send().await;
        let (status, bytes) = match sent {
            Ok(resp) => {
                let status = resp.status().as_u16();
                match resp.bytes().await {
                    Ok(b) => (status, b),
                    Err(e) => {
                        *stats.errors.entry(format!("body: {}", short(&e))).or_default() += 1;
                        stats.latency.record(t0.elapsed());
                        continue;
                    }
                }
            }
            Err(e) => {
                *stats.errors.entry(format!("transport: {}", short(&e))).or_default() += 1;
                stats.latency.record(t0.elapsed());
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let accepted = Instant::now();
        stats.latency.record(accepted - t0);
        let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        match status {
            200 => {
                if answer["status"] == "duplicate" {
                    stats.duplicates += 1;
                } else {
                    stats.applied += 1;
                }
                if ctx.lag_sample > 0.0 && rng.random_bool(ctx.lag_sample) {
                    follow(&ctx, &answer, accepted);
                }
            }
            409 if answer["type"] == "urn:pieshop:problem:insufficient-stock" => stats.rejected += 1,
            _ => {
                let slug = answer["type"].as_str().unwrap_or("-").trim_start_matches("urn:pieshop:problem:");
                *stats.errors.entry(format!("{status} {slug}")).or_default() += 1;
            }
        }
    }
    stats
}

fn short(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    s.truncate(80);
    s
}

/// Follows one accepted command until a query shows its version (in the background).
fn follow(ctx: &Arc<Ctx>, answer: &Value, accepted: Instant) {
    let Some(item) = answer["items"].get(0) else { return };
    let (Some(location), Some(sku), Some(version)) =
        (item["location"].as_str(), item["sku"].as_str(), item["version"].as_u64())
    else {
        return;
    };
    let url = format!("{}/api/inventory/{location}/{sku}", ctx.base);
    let ctx = ctx.clone();
    ctx.lag_in_flight.fetch_add(1, Ordering::SeqCst);
    tokio::spawn(async move {
        let seen = match ctx.lag_mode {
            LagMode::Poll => poll_until(&ctx, &url, version, accepted).await,
            LagMode::MinVersion => {
                let resp = ctx.client.get(format!("{url}?minVersion={version}&timeout=10")).send().await;
                matches!(resp, Ok(r) if r.status() == 200 && r.headers().get("x-stale").is_none())
            }
        };
        let mut lag = ctx.lag.lock().await;
        if seen {
            lag.hist.record(accepted.elapsed());
        } else {
            lag.timeouts += 1;
        }
        drop(lag);
        ctx.lag_in_flight.fetch_sub(1, Ordering::SeqCst);
    });
}

async fn poll_until(ctx: &Ctx, url: &str, version: u64, accepted: Instant) -> bool {
    while accepted.elapsed() < Duration::from_secs(10) {
        ctx.lag_polls.fetch_add(1, Ordering::Relaxed);
        if let Ok(resp) = ctx.client.get(url).send().await
            && resp.status() == 200
            && let Ok(v) = resp.json::<Value>().await
            && v["version"].as_u64().is_some_and(|seen| seen >= version)
        {
            return true;
        }
        tokio::time::sleep(ctx.lag_poll).await;
    }
    false
}

fn dashboard_url(rng: &mut StdRng) -> String {
    let roll = rng.random_range(0..100);
    if roll < 45 {
        "/api/inventory/summary".to_owned()
    } else if roll < 90 {
        match rng.random_range(0..=LOCATIONS.len()) {
            0 => "/api/inventory".to_owned(),
            i => format!("/api/inventory?location={}", LOCATIONS[i - 1]),
        }
    } else {
        format!("/api/inventory?q={}", SEARCH_WORDS[rng.random_range(0..SEARCH_WORDS.len())])
    }
}

fn distinct_url(rng: &mut StdRng) -> String {
    let limit = rng.random_range(1..=500);
    let low = if rng.random_bool(0.5) { "true" } else { "false" };
    match rng.random_range(0..=LOCATIONS.len()) {
        0 => format!("/api/inventory?limit={limit}&lowStock={low}"),
        i => format!("/api/inventory?limit={limit}&lowStock={low}&location={}", LOCATIONS[i - 1]),
    }
}

async fn reader(ctx: Arc<Ctx>, _index: usize, mix: QueryMix) -> ReaderStats {
    let mut rng = StdRng::from_os_rng();
    let mut stats = ReaderStats::default();
    let mut etags: HashMap<String, String> = HashMap::new();
    while !ctx.stop.load(Ordering::Relaxed) {
        let path = match mix {
            QueryMix::Dashboard => dashboard_url(&mut rng),
            QueryMix::Distinct => distinct_url(&mut rng),
        };
        let mut req = ctx.client.get(format!("{}{path}", ctx.base));
        if let Some(etag) = etags.get(&path) {
            req = req.header("if-none-match", etag);
        }
        let t0 = Instant::now();
        match req.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let etag = resp.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_owned);
                let body = resp.bytes().await;
                stats.latency.record(t0.elapsed());
                match (status, body) {
                    (200, Ok(_)) => {
                        stats.ok += 1;
                        if let (QueryMix::Dashboard, Some(etag)) = (mix, etag) {
                            etags.insert(path, etag);
                        }
                    }
                    (304, Ok(_)) => stats.not_modified += 1,
                    (status, _) => {
                        let route = path.split('?').next().unwrap_or_default();
                        *stats.errors.entry(format!("{status} {route}")).or_default() += 1;
                    }
                }
            }
            Err(e) => {
                stats.latency.record(t0.elapsed());
                *stats.errors.entry(format!("transport: {}", short(&e))).or_default() += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    stats
}
