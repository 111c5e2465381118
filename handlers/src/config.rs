//! Configuration from environment variables, named like the Azure app settings. No variable set means the
//! embedded default on 127.0.0.1:7071 with data in `./.pieshop`.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::domain::UnknownLocations;
use crate::host::listen::{self, Listen, ListenError, Mode};
use crate::ports::write_store::DEFAULT_IDEMPOTENCY;
use crate::telemetry::LogFormat;

#[cfg(feature = "azure")]
pub mod azure;
pub mod variables;

/// Shortest function key accepted in `PIESHOP_API_KEYS` (the host's own keys are far longer).
pub const MIN_KEY_CHARS: usize = 16;

/// Why the configuration was refused (the process exits non-zero with this message).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Listen(#[from] ListenError),
    #[error("{variable} must be {expected}")]
    Invalid { variable: &'static str, expected: &'static str },
    /// Says which entry is wrong, never what it holds: it may be a key.
    #[error(
        "PIESHOP_API_KEYS entry {entry} is not a name=key pair with a new name and a new key of at least {MIN_KEY_CHARS} characters"
    )]
    ApiKeys { entry: usize },
    #[error(
        "listening on {addr}, which is not a loopback address, needs function keys: set PIESHOP_API_KEYS \
         (name=key pairs, comma-separated) or listen on 127.0.0.1"
    )]
    KeysRequired { addr: SocketAddr },
}

/// Logs and telemetry export: read before anything else, so that even a refused configuration is logged in the
/// format the host expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetrySettings {
    pub log_format: LogFormat,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`: where traces and metrics go over OTLP (none: not there).
    pub otlp_endpoint: Option<String>,
    /// `APPLICATIONINSIGHTS_CONNECTION_STRING`: requests, dependencies, traces and metrics to Application Insights.
    pub application_insights: Option<Secret>,
    /// `APPLICATIONINSIGHTS_AUTHENTICATION_STRING`: `Authorization=AAD[;ClientId=<id>]` for Entra uploads.
    pub application_insights_authentication: Option<String>,
}

impl TelemetrySettings {
    pub fn from_values(values: &std::collections::HashMap<String, String>) -> Result<Self, ConfigError> {
        Self::from_lookup(|name| values.get(name).cloned())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let log_format = match lookup("PIESHOP_LOG_FORMAT").as_deref() {
            Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(_) => return Err(ConfigError::Invalid { variable: "PIESHOP_LOG_FORMAT", expected: "text or json" }),
            None if lookup(listen::HOST_PORT_VARIABLE).is_some() => LogFormat::Json,
            None => LogFormat::Text,
        };
        Ok(Self {
            log_format,
            otlp_endpoint: lookup("OTEL_EXPORTER_OTLP_ENDPOINT"),
            application_insights: lookup("APPLICATIONINSIGHTS_CONNECTION_STRING").map(Secret::new),
            application_insights_authentication: lookup("APPLICATIONINSIGHTS_AUTHENTICATION_STRING"),
        })
    }
}

/// A value that must never be printed: `Debug` and `Display` show `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that compares it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// One caller's function key: the name says who (`till-1`), the key proves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub name: String,
    pub key: Secret,
}

/// Who may call the API's guarded routes (commands, queries, activity, `/projection`, `/relay`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// Anyone: standalone on a loopback address with no keys configured. No caller is known.
    Open,
    /// Under the Functions host, which checks function keys before it passes a request on. `easy_auth`: App
    /// Service authentication is on (`WEBSITE_AUTH_ENABLED`), so the principal headers the platform injects name
    /// the caller (`http::caller`).
    Host { easy_auth: bool },
    /// Only callers presenting one of these keys (standalone with `PIESHOP_API_KEYS` set).
    Keys(Vec<ApiKey>),
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
    /// How long command markers are kept (`PIESHOP_IDEMPOTENCY_DAYS`, default 30; see `DEFAULT_IDEMPOTENCY`).
    pub idempotency: Duration,
    /// Function keys, from `PIESHOP_API_KEYS` when standalone (see `Access`).
    pub access: Access,
    /// Whether live commands may name undefined or retired locations (`PIESHOP_UNKNOWN_LOCATIONS`, default allow).
    pub unknown_locations: UnknownLocations,
    /// Which ports use Azure adapters, and how to reach them.
    #[cfg(feature = "azure")]
    pub azure: azure::AzureSettings,
}

impl Settings {
    /// Reads the values clap found for `variables::Variables` (flags and environment).
    pub fn from_values(values: &std::collections::HashMap<String, String>) -> Result<Self, ConfigError> {
        Self::from_lookup(|name| values.get(name).cloned())
    }

    /// Reads settings through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let listen =
            listen::resolve(lookup(listen::HOST_PORT_VARIABLE).as_deref(), lookup("PIESHOP_LISTEN").as_deref())?;
        Ok(Self {
            data_dir: lookup("PIESHOP_DATA_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(".pieshop")),
            relay_interval: millis(&lookup, "PIESHOP_RELAY_INTERVAL_MS", 1000)?,
            relay_min_age: millis(&lookup, "PIESHOP_RELAY_MIN_AGE_MS", 2000)?,
            idempotency: days(&lookup, "PIESHOP_IDEMPOTENCY_DAYS", DEFAULT_IDEMPOTENCY)?,
            access: access(&listen, lookup("PIESHOP_API_KEYS").as_deref(), lookup(EASY_AUTH_VARIABLE).as_deref())?,
            unknown_locations: match lookup("PIESHOP_UNKNOWN_LOCATIONS").as_deref().map(str::trim) {
                None | Some("allow") => UnknownLocations::Allow,
                Some("refuse") => UnknownLocations::Refuse,
                Some(_) => {
                    return Err(ConfigError::Invalid {
                        variable: "PIESHOP_UNKNOWN_LOCATIONS",
                        expected: "allow or refuse",
                    });
                }
            },
            #[cfg(feature = "azure")]
            azure: azure::AzureSettings::from_lookup(&lookup)?,
            listen,
        })
    }
}

/// Keys are the host's business under the host; standalone, configured keys are always required, and an
/// address other than loopback refuses to start without them.
fn access(listen: &Listen, keys: Option<&str>, easy_auth: Option<&str>) -> Result<Access, ConfigError> {
    if listen.mode == Mode::Host {
        return Ok(Access::Host { easy_auth: easy_auth.is_some_and(easy_auth_on) });
    }
    let keys = keys.map(api_keys).transpose()?.unwrap_or_default();
    if !keys.is_empty() {
        return Ok(Access::Keys(keys));
    }
    if listen.addr.ip().to_canonical().is_loopback() {
        Ok(Access::Open)
    } else {
        Err(ConfigError::KeysRequired { addr: listen.addr })
    }
}

/// The platform's setting that says App Service authentication (Easy Auth) is on.
pub const EASY_AUTH_VARIABLE: &str = "WEBSITE_AUTH_ENABLED";

/// Whether `WEBSITE_AUTH_ENABLED` says on, read as the Functions host reads it for the identities it builds
/// (`bool.TryParse`: `true` in any case, spaces around allowed; `EnvironmentExtensions.IsEasyAuthEnabled`).
fn easy_auth_on(value: &str) -> bool {
    value.trim().eq_ignore_ascii_case("true")
}

/// `name=key,name=key` (spaces around entries ignored; a key may itself contain `=`, as base64 does).
fn api_keys(text: &str) -> Result<Vec<ApiKey>, ConfigError> {
    let mut keys: Vec<ApiKey> = Vec::new();
    for (index, entry) in text.split(',').map(str::trim).enumerate().filter(|(_, entry)| !entry.is_empty()) {
        let invalid = ConfigError::ApiKeys { entry: index + 1 };
        let Some((name, key)) = entry.split_once('=') else { return Err(invalid) };
        let (name, key) = (name.trim(), key.trim());
        let new = keys.iter().all(|k| k.name != name && k.key.expose() != key);
        // A key's name is the caller its commands are recorded under.
        let named = crate::domain::Caller::parse(name).is_some_and(|caller| caller.as_str() == name);
        if !named || key.chars().count() < MIN_KEY_CHARS || !new {
            return Err(invalid);
        }
        keys.push(ApiKey { name: name.to_owned(), key: Secret::new(key) });
    }
    Ok(keys)
}

/// A whole number of days, at least 1: a shorter window would forget markers within Event Grid's retries.
fn days(
    lookup: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match lookup(variable) {
        None => Ok(default),
        Some(text) => match text.trim().parse::<u64>() {
            Ok(days @ 1..=36_500) => Ok(Duration::from_secs(days * 24 * 3600)),
            _ => Err(ConfigError::Invalid { variable, expected: "a whole number of days from 1 to 36500" }),
        },
    }
}

fn millis(
    lookup: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: u64,
) -> Result<Duration, ConfigError> {
    match lookup(variable) {
        None => Ok(Duration::from_millis(default)),
        Some(text) => text
            .trim()
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| ConfigError::Invalid { variable, expected: "a whole number of milliseconds" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const KEY: &str = "k3y-0f-at-least-16-chars==";

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_lookup(|name| vars.get(name).cloned())
    }

    /// Every variable the settings ask for is one `Variables` documents (and so one clap can supply).
    #[test]
    fn every_variable_read_is_a_documented_one() {
        let asked = std::cell::RefCell::new(Vec::new());
        // A value for everything (under the host, so keys are not parsed), so that every setting is asked for.
        let settings = Settings::from_lookup(|name| {
            asked.borrow_mut().push(name.to_owned());
            Some(
                match name {
                    "EVENTGRID_SCHEMA" => "cloudevents",
                    "PIESHOP_UNKNOWN_LOCATIONS" => "refuse",
                    _ => "1",
                }
                .to_owned(),
            )
        });
        assert!(settings.is_ok(), "{settings:?}");
        let documented = variables::Variables::names();
        let asked = asked.into_inner();
        assert!(asked.len() > 15, "{asked:?}");
        for name in &asked {
            assert!(documented.contains(name), "{name} is read but not in Variables");
        }
    }

    #[test]
    fn unknown_locations_are_allowed_unless_refused() {
        assert_eq!(settings(&[]).unwrap().unknown_locations, UnknownLocations::Allow);
        let refuse = settings(&[("PIESHOP_UNKNOWN_LOCATIONS", "refuse")]).unwrap();
        assert_eq!(refuse.unknown_locations, UnknownLocations::Refuse);
        let error = settings(&[("PIESHOP_UNKNOWN_LOCATIONS", "deny")]).unwrap_err();
        assert!(error.to_string().contains("PIESHOP_UNKNOWN_LOCATIONS"), "{error}");
    }

    #[test]
    fn loopback_without_keys_is_open() {
        assert_eq!(settings(&[]).unwrap().access, Access::Open);
        assert_eq!(settings(&[("PIESHOP_LISTEN", "[::1]:7071")]).unwrap().access, Access::Open);
    }

    #[test]
    fn any_other_address_without_keys_refuses_to_start() {
        let error = settings(&[("PIESHOP_LISTEN", "0.0.0.0:7071")]).unwrap_err();
        assert!(matches!(error, ConfigError::KeysRequired { .. }), "{error}");
        assert!(error.to_string().contains("PIESHOP_API_KEYS"));
    }

    #[test]
    fn keys_are_name_key_pairs_and_a_key_may_contain_equals() {
        let keys = format!("till-1={KEY}, manager = other-key-of-16-chars ,");
        let access = settings(&[("PIESHOP_LISTEN", "0.0.0.0:7071"), ("PIESHOP_API_KEYS", &keys)]).unwrap().access;
        let Access::Keys(keys) = access else { panic!("keys not required") };
        let pairs: Vec<(&str, &str)> = keys.iter().map(|k| (k.name.as_str(), k.key.expose())).collect();
        assert_eq!(pairs, [("till-1", KEY), ("manager", "other-key-of-16-chars")]);
    }

    #[test]
    fn configured_keys_are_required_on_loopback_too() {
        let access = settings(&[("PIESHOP_API_KEYS", &format!("till-1={KEY}"))]).unwrap().access;
        assert!(matches!(access, Access::Keys(_)));
    }

    #[test]
    fn under_the_host_keys_are_left_to_the_host() {
        let vars = [("FUNCTIONS_CUSTOMHANDLER_PORT", "40000"), ("PIESHOP_API_KEYS", "not a pair")];
        assert_eq!(settings(&vars).unwrap().access, Access::Host { easy_auth: false });
    }

    #[test]
    fn easy_auth_is_trusted_under_the_host_only_when_the_platform_says_it_is_on() {
        let host = |value: &str| settings(&[("FUNCTIONS_CUSTOMHANDLER_PORT", "40000"), (EASY_AUTH_VARIABLE, value)]);
        assert_eq!(host("True").unwrap().access, Access::Host { easy_auth: true });
        assert_eq!(host(" true ").unwrap().access, Access::Host { easy_auth: true });
        for off in ["False", "1", "yes", ""] {
            assert_eq!(host(off).unwrap().access, Access::Host { easy_auth: false }, "{off:?}");
        }
        assert_eq!(settings(&[(EASY_AUTH_VARIABLE, "True")]).unwrap().access, Access::Open, "never standalone");
    }

    #[test]
    fn a_key_name_must_be_a_caller_name() {
        for bad in [format!("{}={KEY}", "n".repeat(300)), format!("till\u{7}1={KEY}")] {
            let error = settings(&[("PIESHOP_API_KEYS", &bad)]).unwrap_err();
            assert!(matches!(error, ConfigError::ApiKeys { .. }), "{error}");
        }
    }

    #[test]
    fn bad_entries_are_refused_without_echoing_them() {
        let short = "till-1=short-key";
        let duplicate_name = format!("a={KEY},a=another-key-16-chars");
        let duplicate_key = format!("a={KEY},b={KEY}");
        for bad in [short, "no-equals-sign-here-at-all", &format!("={KEY}"), &duplicate_name, &duplicate_key] {
            let error = settings(&[("PIESHOP_API_KEYS", bad)]).unwrap_err();
            assert!(matches!(error, ConfigError::ApiKeys { .. }), "{bad}: {error}");
            assert!(!error.to_string().contains("key-") && !error.to_string().contains(KEY), "{error}");
        }
    }

    #[test]
    fn debug_output_never_shows_a_key() {
        let settings = settings(&[("PIESHOP_API_KEYS", &format!("till-1={KEY}"))]).unwrap();
        let printed = format!("{settings:?} {settings:#?}");
        assert!(!printed.contains(KEY) && printed.contains("till-1") && printed.contains("***"), "{printed}");
        assert_eq!(Secret::new(KEY).to_string(), "***");
    }
}
