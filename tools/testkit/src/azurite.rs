//! Azurite (npm `azurite`, pinned and installed by `scripts/setup.sh` under `$PIESHOP_CACHE/azurite`), the real Azure
//! Storage emulator, started by the test on a free 127.0.0.1 port with a temporary location, and stopped on drop.
//!
//! The Rust Blob SDK has no shared-key auth, so the test signs an account SAS with the emulator's well-known
//! development key (published in Azurite's README; it opens nothing but a local emulator) and hands it to the
//! handler as `PIESHOP_DEADLETTER_SAS`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};

const ACCOUNT: &str = "devstoreaccount1";
/// Azurite's well-known development account key: for the emulator only.
const EMULATOR_KEY: &str = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// A running Azurite blob service.
pub struct Azurite {
    child: Child,
    _location: tempfile::TempDir,
    /// `http://127.0.0.1:<port>/devstoreaccount1`
    pub account_url: String,
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `azurite-blob` from `AZURITE_BLOB`, else from the cache `scripts/setup.sh` fills.
fn binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("AZURITE_BLOB").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let cache = std::env::var_os("PIESHOP_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/pieshop")))?;
    let path = cache.join("azurite/node_modules/.bin/azurite-blob");
    path.exists().then_some(path)
}

impl Azurite {
    /// Starts Azurite, or returns `None` after saying why the test is skipped; with `PIESHOP_REQUIRE_ALL` set,
    /// a missing Azurite fails the test instead.
    pub fn start() -> Option<Azurite> {
        let Some(binary) = binary() else {
            crate::engines::skip("Azurite is not installed", "scripts/setup.sh installs it, or set AZURITE_BLOB");
            return None;
        };
        let location = tempfile::tempdir().unwrap();
        let mut child = Command::new(&binary)
            .args(["--blobHost", "127.0.0.1", "--blobPort", "0", "--silent", "--location"])
            .arg(location.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        // It prints the address it listens on once it does: that line is the readiness signal.
        let stdout = child.stdout.take().unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.split("listens on ").nth(1) {
                    let _ = sender.send(url.trim().to_owned());
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = receiver
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("Azurite did not start listening within 60 s"));
        Some(Azurite { child, _location: location, account_url: format!("{url}/{ACCOUNT}") })
    }

    /// An account SAS (blob service; service, container and object; read, add, create, write, delete, list),
    /// signed with the emulator's key, valid for an hour.
    pub fn sas(&self) -> String {
        let version = "2021-08-06";
        let expiry = (time::OffsetDateTime::now_utc() + time::Duration::hours(1))
            .replace_nanosecond(0)
            .unwrap()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let (permissions, services, types) = ("racwdl", "b", "sco");
        let to_sign = format!("{ACCOUNT}\n{permissions}\n{services}\n{types}\n\n{expiry}\n\n\n{version}\n\n");
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&STANDARD.decode(EMULATOR_KEY).unwrap()).unwrap();
        mac.update(to_sign.as_bytes());
        let signature = STANDARD.encode(mac.finalize().into_bytes());
        form_urlencoded::Serializer::new(String::new())
            .append_pair("sv", version)
            .append_pair("ss", services)
            .append_pair("srt", types)
            .append_pair("sp", permissions)
            .append_pair("se", &expiry)
            .append_pair("sig", &signature)
            .finish()
    }
}
