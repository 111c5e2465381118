//! The handler instances: one handler process per simulated Functions instance, started and supervised as the
//! host starts its custom handler, and the pick of an instance for each request or delivery.
//!
//! As the host does (`docs/protocol/functions-custom-handler.md` §1): the child gets a free loopback port in
//! `FUNCTIONS_CUSTOMHANDLER_PORT` (plus `FUNCTIONS_CUSTOMHANDLER_WORKER_ID` and the legacy names), is polled
//! with `GET /` every 25 ms until anything answers (30 s limit), and is restarted when it exits with a code
//! other than 0; an exit with 0 is not restarted (later invocations fail). A SIGKILL from the admin API is such
//! a non-zero exit, so the instance comes back, losing whatever it held in memory.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::{Notify, watch};

/// How long a starting handler gets to answer `GET /` (the host's `InitializationTimeout` default).
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// The host polls a starting handler this often.
const READY_POLL: Duration = Duration::from_millis(25);

/// How to start one handler process.
#[derive(Debug, Clone)]
pub struct Launch {
    pub executable: PathBuf,
    pub arguments: Vec<String>,
    pub working_directory: PathBuf,
    pub app_root: PathBuf,
    /// Settings every instance gets (app settings), on top of funchost's own environment.
    pub env: Vec<(String, String)>,
}

/// Where an instance stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase", tag = "state")]
pub enum State {
    Starting,
    Ready {
        port: u16,
        pid: u32,
    },
    /// Exited with status 0: the host does not restart such a worker.
    Stopped,
}

/// One instance and its supervisor's handles.
pub struct Slot {
    pub index: usize,
    state: watch::Sender<State>,
    kill: Notify,
    restarts: AtomicUsize,
}

impl Slot {
    pub fn state(&self) -> State {
        *self.state.borrow()
    }

    pub fn restarts(&self) -> usize {
        self.restarts.load(Ordering::Relaxed)
    }

    /// The port once the instance is ready, waiting for a (re)start up to the host's own limit.
    pub async fn ready_port(&self) -> Option<u16> {
        let mut states = self.state.subscribe();
        let wait = states.wait_for(|s| matches!(s, State::Ready { .. } | State::Stopped));
        match tokio::time::timeout(READY_TIMEOUT * 2, wait).await {
            Ok(Ok(state)) => match *state {
                State::Ready { port, .. } => Some(port),
                _ => None,
            },
            _ => None,
        }
    }

    /// SIGKILLs the handler process (the supervisor then restarts it, as the host would).
    pub fn kill(&self) {
        self.kill.notify_one();
    }
}

/// Every instance, and round-robin picking among the ready ones.
pub struct Instances {
    pub slots: Vec<Arc<Slot>>,
    next: AtomicUsize,
}

impl Instances {
    /// Starts `count` supervised instances; returns once every one answered its readiness probe once.
    pub async fn start(count: usize, launch: Launch) -> anyhow::Result<Arc<Self>> {
        let slots: Vec<Arc<Slot>> = (0..count)
            .map(|index| {
                Arc::new(Slot {
                    index,
                    state: watch::Sender::new(State::Starting),
                    kill: Notify::new(),
                    restarts: AtomicUsize::new(0),
                })
            })
            .collect();
        for slot in &slots {
            tokio::spawn(supervise(slot.clone(), launch.clone()));
        }
        for slot in &slots {
            if slot.ready_port().await.is_none() {
                anyhow::bail!("handler instance {} did not become ready (see its log lines above)", slot.index);
            }
        }
        Ok(Arc::new(Self { slots, next: AtomicUsize::new(0) }))
    }

    /// The next instance in turn that is ready (or, if none is, the next one that becomes ready).
    pub async fn pick(&self, pinned: Option<usize>) -> Option<(usize, u16)> {
        if let Some(index) = pinned {
            let slot = self.slots.get(index)?;
            return slot.ready_port().await.map(|port| (index, port));
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for offset in 0..self.slots.len() {
            let slot = &self.slots[(start + offset) % self.slots.len()];
            if let State::Ready { port, .. } = slot.state() {
                return Some((slot.index, port));
            }
        }
        let slot = &self.slots[start % self.slots.len()];
        slot.ready_port().await.map(|port| (slot.index, port))
    }
}

/// Starts the handler, waits for readiness, restarts it after any exit but status 0.
async fn supervise(slot: Arc<Slot>, launch: Launch) {
    loop {
        slot.state.send_replace(State::Starting);
        let port = match free_port() {
            Ok(port) => port,
            Err(error) => {
                tracing::error!(instance = slot.index, %error, "no free port");
                return;
            }
        };
        let mut child = match spawn(&launch, slot.index, port) {
            Ok(child) => child,
            Err(error) => {
                tracing::error!(instance = slot.index, %error, "cannot start the handler");
                return;
            }
        };
        let pid = child.id().unwrap_or_default();
        tokio::select! {
            ready = wait_ready(port) => {
                if ready {
                    tracing::info!(instance = slot.index, port, pid, "handler ready");
                    slot.state.send_replace(State::Ready { port, pid });
                } else {
                    tracing::error!(instance = slot.index, "handler not ready after {READY_TIMEOUT:?}; restarting it");
                    let _ = child.start_kill();
                }
            }
            _ = child.wait() => {}
        }
        let status = tokio::select! {
            status = child.wait() => status,
            _ = slot.kill.notified() => {
                tracing::warn!(instance = slot.index, pid, "SIGKILL");
                let _ = child.start_kill();
                child.wait().await
            }
        };
        match status.ok().and_then(|s| s.code()) {
            Some(0) => {
                tracing::error!(instance = slot.index, "handler exited with 0: not restarted (as the host does)");
                slot.state.send_replace(State::Stopped);
                return;
            }
            code => tracing::warn!(instance = slot.index, ?code, "handler exited; restarting it"),
        }
        slot.restarts.fetch_add(1, Ordering::Relaxed);
    }
}

fn spawn(launch: &Launch, index: usize, port: u16) -> std::io::Result<tokio::process::Child> {
    let worker = uuid::Uuid::new_v4().to_string();
    let mut command = Command::new(&launch.executable);
    command
        .args(&launch.arguments)
        .current_dir(&launch.working_directory)
        .envs(launch.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
        .env("FUNCTIONS_CUSTOMHANDLER_WORKER_ID", &worker)
        .env("FUNCTIONS_HTTPWORKER_PORT", port.to_string())
        .env("FUNCTIONS_HTTPWORKER_ID", &worker)
        .env("FUNCTIONS_APP_ROOT_PATH", &launch.app_root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn()?;
    // The host logs a worker's stdout and stderr; here they go to funchost's stderr, each line marked.
    for stream in [
        child.stdout.take().map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
        child.stderr.take().map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
    ]
    .into_iter()
    .flatten()
    {
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                eprintln!("[handler {index}] {line}");
            }
        });
    }
    Ok(child)
}

/// Polls `GET /` until any HTTP answer arrives (any status means ready, as for the host).
async fn wait_ready(port: u16) -> bool {
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    while tokio::time::Instant::now() < deadline {
        if client.get(format!("http://127.0.0.1:{port}/")).send().await.is_ok() {
            return true;
        }
        tokio::time::sleep(READY_POLL).await;
    }
    false
}

/// A loopback port nobody listens on now (the host's `GetUnusedTcpPort` does the same).
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Every instance's state for the admin API.
pub fn describe(instances: &Instances) -> serde_json::Value {
    let list: Vec<serde_json::Value> = instances
        .slots
        .iter()
        .map(|s| serde_json::json!({"index": s.index, "state": s.state(), "restarts": s.restarts()}))
        .collect();
    serde_json::Value::Array(list)
}
