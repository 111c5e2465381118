//! Function keys, host keys and the master key, checked as the Functions host checks them: the key comes from
//! the `x-functions-key` header, else the `code` query parameter (a header, when present, decides alone); the
//! master key grants `admin`, a host key grants `function` on every function, a function key grants
//! `function` on its own function only. A missing or wrong key is a 401 with an empty body.
//! Source: Azure/azure-functions-host `Security/Authentication/Keys/AuthenticationLevelHandler.cs`,
//! `Middleware/FunctionInvocationMiddleware.cs`; `docs/protocol/push-deadletter-auth.md` §C.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::app::AuthLevel;

/// The keys file (`--keys`): the same roles as the host's secrets, in a flat form.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Keys {
    pub master_key: String,
    /// Host keys by name: each opens every function (`default` is what the portal shows).
    #[serde(default)]
    pub host_keys: BTreeMap<String, String>,
    /// Function keys by function, then by name: each opens its own function only.
    #[serde(default)]
    pub function_keys: BTreeMap<String, BTreeMap<String, String>>,
}

impl Keys {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// Fresh random keys: a master key, a `default` host key, and a `default` key per function.
    pub fn generate<'a>(functions: impl Iterator<Item = &'a str>) -> Self {
        let function_keys = functions.map(|f| (f.to_owned(), BTreeMap::from([("default".into(), random_key())])));
        Self {
            master_key: random_key(),
            host_keys: BTreeMap::from([("default".into(), random_key())]),
            function_keys: function_keys.collect(),
        }
    }

    /// The level the presented key grants for `function` (`None`: no key or a wrong one).
    fn level(&self, function: &str, presented: &str) -> Option<AuthLevel> {
        self.grant(function, presented).map(|(_, level)| level)
    }

    /// The matching key's name and the level it grants for `function`, looked up in the host's order: the master
    /// key (named `master`), host keys, then the function's own keys (`SecretManager.GetAuthorizationLevelAsync`).
    pub fn grant(&self, function: &str, presented: &str) -> Option<(String, AuthLevel)> {
        if presented == self.master_key {
            return Some(("master".into(), AuthLevel::Admin));
        }
        let named =
            |keys: &BTreeMap<String, String>| keys.iter().find(|(_, k)| *k == presented).map(|(n, _)| n.clone());
        let host = named(&self.host_keys);
        let own = || self.function_keys.get(function).and_then(named);
        host.or_else(own).map(|name| (name, AuthLevel::Function))
    }

    /// Whether a request with `presented` may invoke `function`, which requires `required`.
    pub fn allows(&self, function: &str, required: AuthLevel, presented: Option<&str>) -> bool {
        let granted = presented.and_then(|key| self.level(function, key));
        match required {
            AuthLevel::Anonymous => true,
            AuthLevel::Function => granted.is_some(),
            AuthLevel::Admin => granted == Some(AuthLevel::Admin),
        }
    }
}

/// 32 random bytes, base64url: the shape of the host's generated keys.
fn random_key() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The key a request presents: the header when present (even if unreadable), else `?code=`.
pub fn presented(headers: &http::HeaderMap, query: Option<&str>) -> Option<String> {
    if let Some(value) = headers.get("x-functions-key") {
        return value.to_str().ok().map(str::to_owned);
    }
    let query = query?;
    form_urlencoded::parse(query.as_bytes()).find(|(name, _)| name == "code").map(|(_, key)| key.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys {
            master_key: "master-key".into(),
            host_keys: BTreeMap::from([("default".into(), "host-key".into())]),
            function_keys: BTreeMap::from([
                ("command".into(), BTreeMap::from([("till-1".into(), "command-key".into())])),
                ("query".into(), BTreeMap::from([("wall".into(), "query-key".into())])),
            ]),
        }
    }

    #[test]
    fn each_kind_of_key_opens_what_the_host_lets_it() {
        let keys = keys();
        use AuthLevel::*;
        assert!(keys.allows("command", Function, Some("command-key")));
        assert!(!keys.allows("query", Function, Some("command-key")), "a function key opens its own function only");
        assert!(keys.allows("query", Function, Some("query-key")));
        assert!(keys.allows("query", Function, Some("host-key")) && keys.allows("command", Function, Some("host-key")));
        assert!(keys.allows("command", Function, Some("master-key")));
        assert!(!keys.allows("relay", Admin, Some("host-key")) && keys.allows("relay", Admin, Some("master-key")));
        assert!(!keys.allows("command", Function, None) && !keys.allows("command", Function, Some("nope")));
        assert!(keys.allows("command", Anonymous, None));
    }

    #[test]
    fn a_grant_names_the_key_that_matched() {
        let keys = keys();
        assert_eq!(keys.grant("command", "command-key"), Some(("till-1".into(), AuthLevel::Function)));
        assert_eq!(keys.grant("command", "host-key"), Some(("default".into(), AuthLevel::Function)));
        assert_eq!(keys.grant("command", "master-key"), Some(("master".into(), AuthLevel::Admin)));
        assert_eq!(keys.grant("query", "command-key"), None);
    }

    #[test]
    fn the_header_wins_over_the_query() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(presented(&headers, Some("a=1&code=q%2Bk%3D")).as_deref(), Some("q+k="));
        headers.insert("x-functions-key", "h".parse().unwrap());
        assert_eq!(presented(&headers, Some("code=q")).as_deref(), Some("h"));
        assert_eq!(presented(&http::HeaderMap::new(), Some("limit=1")), None);
    }
}
