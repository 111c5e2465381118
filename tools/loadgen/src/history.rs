//! `history`: what an item's kept history costs (`README.md`, Offline records). Records `--movements` receipts
//! on one item (timing each half of the filling: equal halves mean filling is linear), then times counts placed
//! before all of them (every movement stays after each, so every sample has the whole history to account for)
//! and movements after them; and the same on an item with no history, measured in the same run, as the baseline
//! beside them.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use serde_json::{Value, json};

use crate::stats::Hist;

#[derive(Args)]
pub struct HistoryArgs {
    /// Base URL of a running pieshop, e.g. http://127.0.0.1:7071
    pub url: String,
    /// Movements recorded on the item before timing.
    #[arg(long, default_value_t = 10_000)]
    pub movements: u32,
    /// Timed commands of each kind.
    #[arg(long, default_value_t = 50)]
    pub samples: u32,
    /// Print one JSON object on the last line too.
    #[arg(long)]
    pub json: bool,
}

/// One record on `sku` at store `bench`, `offset` seconds after 08:00 on a fixed day.
fn record(kind: &str, sku: &str, offset: u32, quantity: u32) -> Value {
    let at = time_at(offset);
    json!({"commandId": uuid::Uuid::new_v4().to_string(), "type": kind, "location": "bench", "sku": sku,
           "quantity": quantity, "occurredAt": at})
}

/// 08:00 on 2 March 2026 plus `offset` seconds (100,000 movements run into the next day).
fn time_at(offset: u32) -> String {
    let at = 8 * 3600 + offset;
    format!("2026-03-{:02}T{:02}:{:02}:{:02}.000000Z", 2 + at / 86_400, at / 3600 % 24, at / 60 % 60, at % 60)
}

async fn post(http: &reqwest::Client, url: &str, body: &Value) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let response = http.post(url).json(body).send().await.context("request")?;
    let status = response.status();
    let answer: Value = response.json().await.context("answer")?;
    if !status.is_success() {
        bail!("{url} answered {status}: {answer}");
    }
    Ok(started.elapsed())
}

/// Times `samples` counts before every kept movement, then `samples` receipts after them, on `sku`.
async fn time_item(
    http: &reqwest::Client,
    base: &str,
    sku: &str,
    samples: u32,
    after: u32,
) -> anyhow::Result<[Hist; 2]> {
    let one = format!("{base}/api/commands");
    let mut counts = Hist::default();
    for i in 0..samples {
        // Counts at 07:00 + i µs: before every movement (so all are kept), each newer than the last count.
        let mut count = record("count", sku, 0, 5);
        count["occurredAt"] = json!(format!("2026-03-02T07:00:00.{i:06}Z"));
        counts.record(post(http, &one, &count).await?);
    }
    let mut movements = Hist::default();
    for i in 0..samples {
        movements.record(post(http, &one, &record("receive", sku, after + 1 + i, 1)).await?);
    }
    Ok([counts, movements])
}

pub async fn history(args: HistoryArgs) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let base = args.url.trim_end_matches('/');
    let batch_url = format!("{base}/api/commands/batch");
    let sku = format!("history-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let baseline_sku = format!("{sku}-none");
    let started = Instant::now();
    let mut first_half = Duration::ZERO;
    for chunk in (0..args.movements).collect::<Vec<_>>().chunks(500) {
        let commands: Vec<Value> = chunk.iter().map(|i| record("receive", &sku, *i, 1)).collect();
        post(&http, &batch_url, &json!({"commands": commands})).await?;
        if first_half.is_zero() && chunk.last().is_some_and(|last| last + 1 >= args.movements / 2) {
            first_half = started.elapsed();
        }
    }
    let filled = started.elapsed();
    let second_half = filled - first_half;
    let [base_counts, base_moves] = time_item(&http, base, &baseline_sku, args.samples, 0).await?;
    let [counts, moves] = time_item(&http, base, &sku, args.samples, args.movements).await?;
    println!(
        "history: {} movements recorded in {:.1} s (first half {:.1} s, second half {:.1} s)",
        args.movements,
        filled.as_secs_f64(),
        first_half.as_secs_f64(),
        second_half.as_secs_f64()
    );
    println!("  count, {} movements kept: {}", args.movements, counts.line());
    println!("  count, no history:        {}", base_counts.line());
    println!("  receipt, {} kept:        {}", args.movements, moves.line());
    println!("  receipt, no history:      {}", base_moves.line());
    if args.json {
        let ms = |h: &Hist| json!({"p50_ms": h.ms(0.5), "p99_ms": h.ms(0.99)});
        println!(
            "{}",
            json!({"movements": args.movements, "fill_seconds": filled.as_secs_f64(),
                   "fill_first_half_seconds": first_half.as_secs_f64(),
                   "fill_second_half_seconds": second_half.as_secs_f64(),
                   "count": ms(&counts), "count_baseline": ms(&base_counts),
                   "receipt": ms(&moves), "receipt_baseline": ms(&base_moves)})
        );
    }
    Ok(())
}
