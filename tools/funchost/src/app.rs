//! The function app as the host reads it: `host.json` and one `<name>/function.json` per function, from the
//! app root (a repository checkout or an unpacked package zip).
//!
//! Only what pieshop's app uses is understood; anything else is refused by name rather than half-served.
//! Sources: `docs/protocol/functions-custom-handler.md` §1, §3 and §7 (host.json `customHandler`,
//! `extensions.http.routePrefix`, the trigger bindings).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde_json::Value;

use crate::route::RouteTemplate;

/// Who may call an HTTP function (`authLevel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthLevel {
    Anonymous,
    Function,
    Admin,
}

/// What starts a function.
#[derive(Debug, Clone)]
pub enum Trigger {
    /// `httpTrigger` with an `http` output: proxied or forwarded as-is (`HttpMode`).
    Http { route: RouteTemplate, methods: Vec<String>, auth: AuthLevel },
    /// `eventGridTrigger`: Event Grid deliveries in the `{Data, Metadata}` envelope; with `cardinality: many`
    /// (`many`) a whole delivery is one invocation, else one invocation per event of it.
    EventGrid { binding: String, many: bool },
    /// `timerTrigger`: NCRONTAB schedule (six fields, seconds first).
    Timer { binding: String, schedule: String, run_on_startup: bool },
}

/// How HTTP-only functions reach the handler (`customHandler` in host.json; protocol notes §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMode {
    /// `enableProxyingHttpRequest`: a reverse proxy (YARP) that streams request and answer; current hosts, and it
    /// takes precedence over forwarding.
    Proxy,
    /// `enableForwardingHttpRequest`: a copy of the request sent with `HttpClient`, the answer read whole before
    /// it is returned ("response streaming is not available"); what a host without proxying does.
    Forward,
}

impl HttpMode {
    /// What a host picks from host.json's two settings; `host_proxies`: whether it knows proxying at all (an
    /// older host ignores the setting it does not know and falls back to forwarding).
    pub fn pick(proxying: bool, forwarding: bool, host_proxies: bool) -> Option<Self> {
        match (proxying && host_proxies, forwarding) {
            (true, _) => Some(HttpMode::Proxy),
            (false, true) => Some(HttpMode::Forward),
            (false, false) => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            HttpMode::Proxy => "proxy",
            HttpMode::Forward => "forward",
        }
    }
}

/// One function: its folder name (what the host POSTs to) and its trigger.
#[derive(Debug, Clone)]
pub struct Function {
    pub name: String,
    pub trigger: Trigger,
}

/// The app: where it lives, how to start the handler, and its functions.
#[derive(Debug, Clone)]
pub struct App {
    pub root: PathBuf,
    /// `customHandler.description.defaultExecutablePath`, resolved against the app root when that file exists.
    pub executable: PathBuf,
    pub arguments: Vec<String>,
    pub working_directory: PathBuf,
    pub route_prefix: String,
    pub functions: Vec<Function>,
    /// `customHandler.enableProxyingHttpRequest`.
    pub proxying: bool,
    /// `customHandler.enableForwardingHttpRequest`.
    pub forwarding: bool,
}

impl App {
    /// Reads `host.json` and every `*/function.json` under `root`.
    pub fn read(root: &Path) -> anyhow::Result<Self> {
        let host: Value = read_json(&root.join("host.json"))?;
        let handler =
            host.get("customHandler").or_else(|| host.get("httpWorker")).context("host.json: no customHandler")?;
        let description = handler.get("description").context("host.json: Missing worker Description.")?;
        let path = description["defaultExecutablePath"].as_str().filter(|p| !p.is_empty());
        let path = path.context("host.json: customHandler.description.defaultExecutablePath is empty")?;
        // The host resolves a relative path against the app root only if that file exists, else uses PATH.
        let executable = if root.join(path).exists() { root.join(path) } else { PathBuf::from(path) };
        let arguments = description["arguments"].as_array().into_iter().flatten().filter_map(Value::as_str);
        let working_directory = match description["workingDirectory"].as_str().filter(|d| !d.is_empty()) {
            Some(dir) => root.join(dir),
            None => root.to_path_buf(),
        };
        let proxying = handler["enableProxyingHttpRequest"].as_bool() == Some(true);
        let forwarding = handler["enableForwardingHttpRequest"].as_bool() == Some(true);
        if !proxying && !forwarding {
            bail!(
                "host.json: this stand-in serves HTTP functions through customHandler.enableProxyingHttpRequest or \
                 enableForwardingHttpRequest, and neither is true"
            );
        }
        let route_prefix = match host.pointer("/extensions/http/routePrefix") {
            Some(Value::String(prefix)) => prefix.trim_matches('/').to_owned(),
            _ => "api".to_owned(),
        };
        // A package has the function folders at its root; this repository keeps them under `functions/`.
        let folders = if root.join("functions").is_dir() { root.join("functions") } else { root.to_path_buf() };
        let mut functions = Vec::new();
        let mut entries: Vec<_> = std::fs::read_dir(&folders)?.filter_map(Result::ok).map(|e| e.path()).collect();
        entries.sort();
        for dir in entries {
            let file = dir.join("function.json");
            if !file.is_file() {
                continue;
            }
            let name = dir.file_name().and_then(|n| n.to_str()).context("function folder name")?.to_owned();
            let trigger = trigger(&read_json(&file)?, &name).with_context(|| format!("{}", file.display()))?;
            functions.push(Function { name, trigger });
        }
        if functions.is_empty() {
            bail!("no */function.json under {}", root.display());
        }
        Ok(Self {
            root: root.to_path_buf(),
            executable,
            arguments: arguments.map(str::to_owned).collect(),
            working_directory,
            route_prefix,
            functions,
            proxying,
            forwarding,
        })
    }

    /// The functions with this kind of trigger.
    pub fn event_grid_functions(&self) -> impl Iterator<Item = (&Function, &str, bool)> {
        self.functions.iter().filter_map(|f| match &f.trigger {
            Trigger::EventGrid { binding, many } => Some((f, binding.as_str(), *many)),
            _ => None,
        })
    }
}

fn read_json(path: &Path) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// The function's trigger from its bindings.
fn trigger(function: &Value, folder: &str) -> anyhow::Result<Trigger> {
    let bindings = function["bindings"].as_array().context("no bindings array")?;
    let input = bindings
        .iter()
        .find(|b| b["direction"] == "in" && b["type"].as_str().is_some_and(|t| t.ends_with("Trigger")))
        .context("no trigger binding")?;
    let name = input["name"].as_str().context("trigger without a name")?.to_owned();
    match input["type"].as_str().unwrap_or_default() {
        "httpTrigger" => {
            let has_http_out = bindings.iter().any(|b| b["type"] == "http" && b["direction"] == "out");
            if !has_http_out || bindings.len() != 2 {
                bail!("an HTTP function here must have exactly an httpTrigger and an http output (forwarding)");
            }
            let auth = match input["authLevel"].as_str().unwrap_or("function").to_ascii_lowercase().as_str() {
                "anonymous" => AuthLevel::Anonymous,
                "function" => AuthLevel::Function,
                "admin" => AuthLevel::Admin,
                other => bail!("unknown authLevel {other:?}"),
            };
            let methods = match input["methods"].as_array() {
                Some(methods) => methods.iter().filter_map(Value::as_str).map(str::to_ascii_uppercase).collect(),
                None => Vec::new(), // every method
            };
            // Without a route the function answers at its own name.
            let route = RouteTemplate::parse(input["route"].as_str().unwrap_or(folder))?;
            Ok(Trigger::Http { route, methods, auth })
        }
        "eventGridTrigger" => {
            let many = match input["cardinality"].as_str().map(str::to_ascii_lowercase).as_deref() {
                None | Some("one") => false,
                Some("many") => true,
                Some(other) => bail!("unknown cardinality {other:?}"),
            };
            Ok(Trigger::EventGrid { binding: name, many })
        }
        "timerTrigger" => Ok(Trigger::Timer {
            binding: name,
            schedule: input["schedule"].as_str().context("timerTrigger without a schedule")?.to_owned(),
            run_on_startup: input["runOnStartup"].as_bool().unwrap_or(false),
        }),
        other => bail!("trigger type {other} is not served by this stand-in"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_current_host_proxies_and_one_without_proxying_falls_back_to_forwarding() {
        assert_eq!(HttpMode::pick(true, true, true), Some(HttpMode::Proxy), "proxying takes precedence");
        assert_eq!(HttpMode::pick(true, true, false), Some(HttpMode::Forward), "an older host ignores it");
        assert_eq!(HttpMode::pick(false, true, true), Some(HttpMode::Forward));
        assert_eq!(HttpMode::pick(true, false, false), None, "nothing an older host knows");
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let app = App::read(&root).unwrap();
        assert!(app.proxying && app.forwarding, "the repository's host.json asks for both");
    }

    /// The repository's own app: five functions, each read as the host would.
    #[test]
    fn the_repository_app_is_read_as_deployed() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let app = App::read(&root).unwrap();
        assert_eq!(app.route_prefix, "api");
        let names: Vec<&str> = app.functions.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["command", "negotiate", "projection", "query", "relay", "verify"]);
        assert!(
            matches!(&app.functions[2].trigger, Trigger::EventGrid { binding, many: true } if binding == "eventGridEvent")
        );
        assert!(matches!(&app.functions[4].trigger, Trigger::Timer { schedule, .. } if schedule == "0 */1 * * * *"));
        assert!(matches!(&app.functions[5].trigger, Trigger::Timer { schedule, .. } if schedule == "0 30 3 * * *"));
        for http in [0, 1] {
            let Trigger::Http { methods, auth, .. } = &app.functions[http].trigger else { panic!("{http} is HTTP") };
            assert_eq!((methods.as_slice(), *auth), (["POST".to_owned()].as_slice(), AuthLevel::Function));
        }
    }
}
