//! App Service authentication ("Easy Auth") in front of the host, as far as a handler can see it
//! (`docs/protocol/caller-identity.md`). On: the platform's module strips whatever `X-MS-CLIENT-PRINCIPAL*` and
//! `X-MS-TOKEN-*` headers a client sent ("External requests aren't allowed to set these headers"), injects its
//! own for a signed-in user (`X-MS-CLIENT-PRINCIPAL-NAME`, `-ID`, `-IDP`, and `X-MS-CLIENT-PRINCIPAL`, base64
//! JSON `{auth_typ, claims: [{typ, val}], name_typ, role_typ}`), and the app gets `WEBSITE_AUTH_ENABLED=True`.
//! Off: nothing strips those headers, so a client's own copies reach the handler untouched.
//!
//! Beyond the platform: who is signed in is said by `x-funchost-principal: <name>` (the sign-in itself, cookies
//! and an identity provider, is not modelled); the header never reaches the handler. Unauthenticated requests
//! pass on (the "allow anonymous" action): the functions' keys still decide who may call.

use base64::Engine;
use http::{HeaderMap, HeaderName, HeaderValue};

/// Says who the modelled sign-in signed in (a stand-in extension, never sent by the platform).
pub const SIGNED_IN_HEADER: &str = "x-funchost-principal";
/// The app setting the platform sets when authentication is on.
pub const ENABLED_SETTING: &str = "WEBSITE_AUTH_ENABLED";
/// The name claim type Entra ID principals carry (`name_typ`).
const NAME_CLAIM: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name";

/// Whether authentication is on in front of the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EasyAuth {
    Off,
    On,
}

impl EasyAuth {
    /// The request's headers as they leave the platform's front end for the host.
    pub fn apply(self, headers: &mut HeaderMap) {
        let signed_in = headers.remove(SIGNED_IN_HEADER);
        if self == EasyAuth::Off {
            return;
        }
        let platform_owned: Vec<HeaderName> = headers
            .keys()
            .filter(|name| {
                name.as_str().starts_with("x-ms-client-principal") || name.as_str().starts_with("x-ms-token-")
            })
            .cloned()
            .collect();
        for name in platform_owned {
            headers.remove(&name);
        }
        let Some(name) = signed_in.as_ref().and_then(|v| v.to_str().ok()).filter(|n| !n.is_empty()) else { return };
        let id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, name.as_bytes()).to_string();
        let principal = serde_json::json!({
            "auth_typ": "aad",
            "claims": [
                {"typ": "http://schemas.microsoft.com/identity/claims/objectidentifier", "val": id},
                {"typ": NAME_CLAIM, "val": name},
            ],
            "name_typ": NAME_CLAIM,
            "role_typ": "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
        });
        let encoded = base64::engine::general_purpose::STANDARD.encode(principal.to_string());
        for (header, value) in [
            ("x-ms-client-principal-name", name.to_owned()),
            ("x-ms-client-principal-id", id),
            ("x-ms-client-principal-idp", "aad".to_owned()),
            ("x-ms-client-principal", encoded),
        ] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(header), value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forged() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-ms-client-principal-name", "mallory".parse().unwrap());
        headers.insert("x-ms-token-aad-id-token", "forged".parse().unwrap());
        headers.insert("x-functions-key", "k".parse().unwrap());
        headers
    }

    #[test]
    fn on_the_platform_replaces_a_clients_principal_headers_with_its_own() {
        let mut headers = forged();
        EasyAuth::On.apply(&mut headers);
        assert!(
            !headers.contains_key("x-ms-client-principal-name") && !headers.contains_key("x-ms-token-aad-id-token")
        );
        assert_eq!(headers["x-functions-key"], "k");
        let mut headers = forged();
        headers.insert(SIGNED_IN_HEADER, "dana@pieshop.example".parse().unwrap());
        EasyAuth::On.apply(&mut headers);
        assert_eq!(headers["x-ms-client-principal-name"], "dana@pieshop.example");
        assert!(!headers.contains_key(SIGNED_IN_HEADER) && !headers.contains_key("x-ms-token-aad-id-token"));
        let json = base64::engine::general_purpose::STANDARD.decode(&headers["x-ms-client-principal"]).unwrap();
        let principal: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(principal["claims"][1], serde_json::json!({"typ": NAME_CLAIM, "val": "dana@pieshop.example"}));
    }

    #[test]
    fn off_a_clients_headers_pass_untouched_and_nobody_is_signed_in() {
        let mut headers = forged();
        headers.insert(SIGNED_IN_HEADER, "dana".parse().unwrap());
        EasyAuth::Off.apply(&mut headers);
        assert_eq!(headers["x-ms-client-principal-name"], "mallory");
        assert_eq!(headers["x-ms-token-aad-id-token"], "forged");
        assert!(!headers.contains_key(SIGNED_IN_HEADER));
    }
}
