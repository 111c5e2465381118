//! Who sent a command, as the server verified it (API 1.2 "Who did it"): the name of the function key that
//! authorised it, or the principal the platform's sign-in (Easy Auth) vouched for. Never a key's value, and
//! never what the body says: `scannerId` is the scanner's own word, `caller` the server's.

use serde::{Deserialize, Serialize};

/// Most characters a caller has: room for an e-mail address or user principal name (RFC 5321 caps an address
/// at 254), which is what Easy Auth names a signed-in user by.
pub const MAX_CALLER_LEN: usize = 256;

/// A verified caller: 1 to `MAX_CALLER_LEN` characters, no control characters, no surrounding spaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Caller(String);

impl Caller {
    /// The caller `name` names, or `None` for a name no caller can have (empty, too long, control characters):
    /// such a name is dropped rather than cut, since a shortened name could be somebody else's.
    pub fn parse(name: &str) -> Option<Self> {
        let name = name.trim();
        let len = name.chars().count();
        ((1..=MAX_CALLER_LEN).contains(&len) && !name.chars().any(char::is_control)).then(|| Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_kept_whole_or_not_at_all() {
        assert_eq!(Caller::parse(" till-1 ").map(|c| c.to_string()).as_deref(), Some("till-1"));
        assert_eq!(Caller::parse("dana@pieshop.example").unwrap().as_str(), "dana@pieshop.example");
        let longest = "a".repeat(MAX_CALLER_LEN);
        assert_eq!(Caller::parse(&longest).unwrap().as_str(), longest);
        for refused in ["", "   ", &"a".repeat(MAX_CALLER_LEN + 1), "till\n1", "till\u{7}"] {
            assert_eq!(Caller::parse(refused), None, "{refused:?}");
        }
    }
}
