//! `loadgen coldstart`: exec → first 200 on the health path, repeated with a fresh data directory and port.
//!
//! The clock starts just before `spawn` and stops when the status line of a 200 has been read. Between attempts
//! the prober sleeps ~200 µs, so the figure is at most that much late. One untimed run first warms the page cache
//! (the binary and its libraries), so every timed run sees the same warm disk: what a Functions host restarting a
//! worker on a warm instance sees, not a first boot of a fresh VM.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use serde_json::json;

#[derive(Args)]
pub struct ColdstartArgs {
    /// The server executable. It gets PIESHOP_LISTEN=127.0.0.1:<port>, PORT=<port> and a fresh PIESHOP_DATA_DIR.
    #[arg(long)]
    pub binary: PathBuf,
    #[arg(long, default_value_t = 20)]
    pub runs: usize,
    /// Path that must answer 200.
    #[arg(long, default_value = "/api/health")]
    pub path: String,
    /// Label for the report.
    #[arg(long)]
    pub label: Option<String>,
    /// Also print one JSON object on the last line.
    #[arg(long)]
    pub json: bool,
    /// Arguments for the binary (after `--`).
    #[arg(last = true)]
    pub args: Vec<String>,
}

pub fn coldstart(args: ColdstartArgs) -> anyhow::Result<()> {
    let label = args.label.clone().unwrap_or_else(|| args.binary.display().to_string());
    once(&args).context("warm-up run")?;
    let mut times: Vec<f64> = Vec::with_capacity(args.runs);
    for run in 0..args.runs {
        let d = once(&args).with_context(|| format!("run {run}"))?;
        times.push(d.as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let pick = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    let (median, p90, min, max) = (pick(0.5), pick(0.9), times[0], times[times.len() - 1]);
    println!(
        "coldstart {label}: {} runs, median {median:.2} ms, p90 {p90:.2} ms (min {min:.2}, max {max:.2})",
        args.runs
    );
    if args.json {
        println!(
            "{}",
            json!({"label": label, "runs": args.runs, "median_ms": median, "p90_ms": p90,
            "min_ms": min, "max_ms": max})
        );
    }
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn once(args: &ColdstartArgs) -> anyhow::Result<Duration> {
    let data = tempfile::tempdir()?;
    let port = free_port()?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let request = format!("GET {} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n", args.path);
    let t0 = Instant::now();
    let mut child = Command::new(&args.binary)
        .args(&args.args)
        .env("PIESHOP_LISTEN", addr.to_string())
        .env("PORT", port.to_string())
        .env("PIESHOP_DATA_DIR", data.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("exec {}", args.binary.display()))?;
    let result = loop {
        if t0.elapsed() > Duration::from_secs(10) {
            break Err(anyhow::anyhow!("no 200 on {} within 10 s", args.path));
        }
        if let Some(status) = child.try_wait()? {
            break Err(anyhow::anyhow!("server exited early: {status}"));
        }
        if let Ok(mut stream) = TcpStream::connect(addr)
            && probe(&mut stream, &request)
        {
            break Ok(t0.elapsed());
        }
        std::thread::sleep(Duration::from_micros(200));
    };
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// Sends the request and reads the status line: true on 200.
fn probe(stream: &mut TcpStream, request: &str) -> bool {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    let mut got = 0;
    while got < 12 {
        match stream.read(&mut buf[got..]) {
            Ok(0) | Err(_) => return false,
            Ok(n) => got += n,
        }
    }
    buf.starts_with(b"HTTP/1.1 200") || buf.starts_with(b"HTTP/1.0 200")
}
