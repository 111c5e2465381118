//! The real binaries as child processes: the `handler` on its embedded default whatever the shell exports, and
//! funchost with its instances; each killed (SIGKILL) and reaped when its [`Process`] is dropped, so a failing
//! test leaves nothing running.

use std::ffi::OsStr;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Output};
use std::time::{Duration, Instant};

/// Every variable that switches a port of the handler to an Azure adapter, or turns on its function keys
/// (see `config::azure`): CI exports the engines' URLs, and a test of the embedded default must not see them.
pub const AZURE_VARIABLES: [&str; 6] = [
    "COSMOS_ENDPOINT",
    "EVENTGRID_TOPIC_ENDPOINT",
    "ELASTICSEARCH_URL",
    "REDIS_URL",
    "REDIS_USERNAME",
    "PIESHOP_API_KEYS",
];

/// `program` (the handler, or funchost in front of it) with none of [`AZURE_VARIABLES`] set.
pub fn embedded_command(program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new(program);
    for variable in AZURE_VARIABLES {
        command.env_remove(variable);
    }
    command
}

/// A port free on `host` now (the OS picks it; the caller binds it right after, as the host does for a worker).
pub fn free_port(host: &str) -> u16 {
    std::net::TcpListener::bind((host, 0)).expect("bind").local_addr().expect("local address").port()
}

/// A running child process; dropping it kills it (its whole process group, if it leads one).
pub struct Process {
    child: Option<Child>,
    group: bool,
}

impl Process {
    /// Spawns `command`.
    pub fn spawn(command: &mut Command) -> Process {
        let child = command.spawn().unwrap_or_else(|e| panic!("cannot start {:?}: {e}", command.get_program()));
        Process { child: Some(child), group: false }
    }

    /// Spawns `command` as the leader of a new process group, so that killing it kills what it started too.
    pub fn spawn_group(command: &mut Command) -> Process {
        command.process_group(0);
        let mut process = Process::spawn(command);
        process.group = true;
        process
    }

    pub fn child(&mut self) -> &mut Child {
        self.child.as_mut().expect("the process is running")
    }

    /// SIGKILL (to the group, if it leads one), then reaps it.
    pub fn kill(&mut self) {
        let Some(child) = self.child.as_mut() else { return };
        if self.group {
            let _ = Command::new("kill").args(["-s", "KILL", "--", &format!("-{}", child.id())]).status();
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Kills the process and returns what it wrote to the pipes it was given.
    pub fn stop(mut self) -> Output {
        let mut child = self.child.take().expect("the process is running");
        let _ = child.kill();
        child.wait_with_output().expect("output of a killed process")
    }

    /// Waits (polling, with a deadline) for the process to exit on its own; `None` if it still runs at `within`.
    pub async fn exited(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child().try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `url` until it answers at all (any status), as the Functions host probes a worker; false if it never
/// did within `within`.
pub async fn answers(client: &reqwest::Client, url: &str, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while client.get(url).send().await.is_err() {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await; // the host's own probe interval
    }
    true
}

/// The handler serving standalone (`PIESHOP_LISTEN`), not as the host's worker.
pub struct Standalone {
    pub process: Process,
    /// `http://127.0.0.1:<port>`
    pub base: String,
}

impl Standalone {
    /// Spawns `command` (the handler) listening on `host`:<a free port>; `base` reaches that port on loopback.
    pub fn spawn(command: &mut Command, host: &str) -> Standalone {
        let port = free_port(host);
        command.env_remove("FUNCTIONS_CUSTOMHANDLER_PORT").env("PIESHOP_LISTEN", format!("{host}:{port}"));
        Standalone { process: Process::spawn(command), base: format!("http://127.0.0.1:{port}") }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Whether `GET /api/health` answered within `within`.
    pub async fn ready(&self, within: Duration) -> bool {
        answers(&reqwest::Client::new(), &self.url("/api/health"), within).await
    }
}
