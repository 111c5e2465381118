//! Configuration from environment variables, named like the Azure app settings. No variable set means the
//! embedded default on 127.0.0.1:7071 with data in `./.pieshop`.

use std::path::PathBuf;
use std::time::Duration;

use crate::host::listen::{self, Listen, ListenError};

/// Why the configuration was refused (the process exits non-zero with this message).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Listen(#[from] ListenError),
    #[error("{variable} must be {expected}")]
    Invalid { variable: &'static str, expected: &'static str },
}

/// Everything the binary needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: Listen,
    /// Where the embedded databases live (`PIESHOP_DATA_DIR`).
    pub data_dir: PathBuf,
    /// Standalone relay period (`PIESHOP_RELAY_INTERVAL_MS`, default 1000).
    pub relay_interval: Duration,
    /// Events younger than this are left to their command's own publish (`PIESHOP_RELAY_MIN_AGE_MS`, default 2000).
    pub relay_min_age: Duration,
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Reads settings through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let listen = listen::resolve(
            lookup(listen::HOST_PORT_VARIABLE).as_deref(),
            lookup("PIESHOP_LISTEN").as_deref(),
        )?;
        Ok(Self {
            listen,
            data_dir: lookup("PIESHOP_DATA_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(".pieshop")),
            relay_interval: millis(&lookup, "PIESHOP_RELAY_INTERVAL_MS", 1000)?,
            relay_min_age: millis(&lookup, "PIESHOP_RELAY_MIN_AGE_MS", 2000)?,
        })
    }
}

fn millis(lookup: &impl Fn(&str) -> Option<String>, variable: &'static str, default: u64) -> Result<Duration, ConfigError> {
    match lookup(variable) {
        None => Ok(Duration::from_millis(default)),
        Some(text) => text
            .trim()
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| ConfigError::Invalid { variable, expected: "a whole number of milliseconds" }),
    }
}
