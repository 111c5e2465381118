//! A CSV export is streamed, not held: the real binary writes 100,000 activity rows while its resident memory
//! grows by far less than the CSV it sends. Deterministic (it measures memory, never time).

use std::process::Stdio;
use std::time::Duration;

use futures::StreamExt;
use pieshop::adapters::embedded::SqliteReadModel;
use pieshop::domain::{CommandId, Event, EventId, EventKind, ItemKey, LocationId, Outcome, Quantity, Sku};
use pieshop::domain::{StockEvent, StreamId, Timestamp, Version};
use pieshop::ports::ReadModel;
use pieshop_testkit::process::Standalone;

use crate::helpers::handler_command;

const EVENTS: u32 = 100_000;

/// Event `n` of the seeded history: 100 skus at 10 locations, one second apart, each with a note of 200
/// characters (what a person may write), so a row is a few hundred bytes, as real ones are.
fn event(n: u32) -> Event {
    let item = ItemKey {
        location: LocationId::parse(&format!("store-{}", n % 10)).unwrap(),
        sku: Sku::parse(&format!("pie-{}", n % 100)).unwrap(),
    };
    let command = CommandId(uuid::Uuid::new_v4());
    let stream = StreamId::Item(item.clone());
    let at = Timestamp::parse("2026-01-01T00:00:00Z").unwrap().plus(Duration::from_secs(u64::from(n)));
    Event::Stock(StockEvent {
        id: EventId::derive(command, &stream),
        kind: EventKind::StockReceived,
        item,
        delta: 1,
        amount: 1,
        outcome: Outcome::Applied,
        quantity: Quantity::new(n / 1_000 + 1).unwrap().into(),
        version: Version(u64::from(n / 1_000 + 1)),
        command_id: command,
        scanner_id: None,
        occurred_at: None,
        recorded_at: at,
        reason: None,
        transfer: None,
        note: Some(format!("delivery {n:06}, {}", "checked by the back-room team ".repeat(6))),
        trace: None,
        caller: None,
        unknown_location: false,
    })
}

/// One `kB` line of `/proc/<pid>/status` (`VmRSS`, `VmHWM`), in bytes.
fn status_bytes(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("no {field} in status"));
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

#[tokio::test]
async fn a_csv_of_100_000_events_comes_out_with_flat_memory() {
    // The read model is filled through its own adapter (500 events a transaction, as the projection writes
    // them): the export reads only the read model, and 100,000 commands through a debug build take minutes.
    let dir = tempfile::tempdir().unwrap();
    {
        let model = SqliteReadModel::open(&dir.path().join("read.db")).unwrap();
        let events: Vec<Event> = (0..EVENTS).map(event).collect();
        for chunk in events.chunks(500) {
            model.apply_batch(chunk).await.unwrap();
        }
    }
    let mut command = handler_command();
    command.env("PIESHOP_DATA_DIR", dir.path()).stdout(Stdio::null()).stderr(Stdio::null());
    let mut server = Standalone::spawn(&mut command, "127.0.0.1");
    assert!(server.ready(Duration::from_secs(30)).await, "the handler did not start");
    let pid = server.process.child().id();
    let client = reqwest::Client::new();

    // Warm up what an export uses (its code path; SQLite's page cache, by a scan of the whole log that matches
    // nothing), so what is measured is the big export alone.
    let small = client.get(server.url("/api/activity?sku=pie-7&format=csv")).send().await.unwrap();
    assert_eq!(small.text().await.unwrap().lines().count(), 1 + (EVENTS / 100) as usize);
    let none = client.get(server.url("/api/activity?type=StockCounted&format=csv")).send().await.unwrap();
    assert_eq!(none.text().await.unwrap().lines().count(), 1, "the header alone");
    let before = status_bytes(pid, "VmRSS");
    // Resets VmHWM to the current RSS (Linux ≥ 4.0, proc(5) "clear_refs"), so VmHWM afterwards is the peak of
    // the export itself, between any two samples too.
    let reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();

    let response = client.get(server.url("/api/activity?format=csv")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    let (mut size, mut lines, mut peak_sampled) = (0usize, 0usize, before);
    // Read chunk by chunk, looking at the server's memory after each (VmHWM catches any peak between two
    // looks): the server writes a page only when the socket takes it, so a slow reader holds it back.
    while let Some(chunk) = body.next().await {
        let chunk = chunk.expect("the export is not cut short");
        size += chunk.len();
        lines += chunk.iter().filter(|b| **b == b'\n').count();
        peak_sampled = peak_sampled.max(status_bytes(pid, "VmRSS"));
    }
    let peak = if reset { status_bytes(pid, "VmHWM").max(peak_sampled) } else { peak_sampled };

    assert_eq!(lines, 1 + EVENTS as usize, "a header and every event, each once");
    let growth = peak.saturating_sub(before);
    // A server that held the export (or the events behind it) would grow by at least its size. One page is 500
    // rows (~250 KB); the bound leaves room for SQLite's page cache (2 MiB a connection) and allocator slack.
    let bound = size as u64 / 8;
    println!(
        "export: {size} bytes, {lines} lines; server RSS {before} B before, peak {peak} B (growth {growth} B, bound {bound} B, VmHWM reset: {reset})"
    );
    assert!(size > 30_000_000, "rows of a realistic size: {size} bytes");
    assert!(growth < bound, "the server grew by {growth} bytes while sending {size}: it holds the export");
}
