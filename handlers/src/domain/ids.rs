//! Identifiers, parsed at the edge so that an invalid one cannot exist inside the system.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Most characters a name (`Sku`, `LocationId`) has.
pub const MAX_NAME_LEN: usize = 64;
/// The name rule of `API.md` as a regular expression, for the OpenAPI document and the error messages
/// (`valid_name` checks it; a test holds the two together).
pub const NAME_PATTERN: &str = "^[a-z0-9][a-z0-9._-]{0,63}$";
/// Most characters a scanner id has.
pub const MAX_SCANNER_LEN: usize = 64;

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("must match {NAME_PATTERN} (lower case letters, digits, '.', '_', '-'; at most {MAX_NAME_LEN})")]
    BadName,
    #[error("must be a UUID")]
    BadUuid,
    #[error("must be 1 to {MAX_SCANNER_LEN} characters")]
    BadScanner,
    #[error("must be a positive integer")]
    BadVersion,
}

/// Checks the name rule of `docs/API.md` (`NAME_PATTERN`). Hand-written: a regex crate for one
/// character class would cost more build time than these six lines.
fn valid_name(s: &str) -> bool {
    let bytes = s.as_bytes();
    let first_ok = bytes.first().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let rest_ok = bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'));
    first_ok && rest_ok && bytes.len() <= MAX_NAME_LEN
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, IdError> {
                if valid_name(s) { Ok(Self(s.to_owned())) } else { Err(IdError::BadName) }
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::parse(&s)
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

name_type!(
    /// A product's stock-keeping unit, e.g. `apple-pie`.
    Sku
);
name_type!(
    /// A storage location, e.g. `store-1`, `cold-store`, `van`.
    LocationId
);

macro_rules! uuid_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, IdError> {
                Uuid::try_parse(s).map(Self).map_err(|_| IdError::BadUuid)
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

uuid_type!(
    /// The client-chosen id of a command; the key of its exactly-once effect.
    CommandId
);
uuid_type!(
    /// An event's id, derived from its command id and stream so every retry yields the same id.
    EventId
);
uuid_type!(
    /// A transfer's id (the transfer command's id).
    TransferId
);

/// Namespace of every derived id (UUID v5), fixed forever: changing it would change every event id.
const PIESHOP_NAMESPACE: Uuid = Uuid::from_u128(0x7f3c_2a1e_5b4d_4e8f_9a6b_1c2d_3e4f_5a6b);

impl EventId {
    /// The id of the event a command produces on a stream.
    pub fn derive(command: CommandId, stream: &StreamId) -> Self {
        let name = format!("event/{command}/{stream}");
        Self(Uuid::new_v5(&PIESHOP_NAMESPACE, name.as_bytes()))
    }
}

impl TransferId {
    /// The command id of a transfer's second half: applying it twice is harmless because its marker exists.
    pub fn in_leg_command(self) -> CommandId {
        CommandId(Uuid::new_v5(&PIESHOP_NAMESPACE, format!("transfer-in/{}", self.0).as_bytes()))
    }
    /// The command id that returns stock to the source when the destination refuses it.
    pub fn return_leg_command(self) -> CommandId {
        CommandId(Uuid::new_v5(&PIESHOP_NAMESPACE, format!("transfer-return/{}", self.0).as_bytes()))
    }
}

/// The scanner a command came from (free text, 1–64 characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ScannerId(String);

impl ScannerId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let len = s.chars().count();
        if (1..=MAX_SCANNER_LEN).contains(&len) && !s.chars().any(char::is_control) {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::BadScanner)
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The W3C trace context (`traceparent`) of the request that made a command: carried by its events so the
/// publish and the projection join the same trace. Opaque to the domain; only its shape is checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TraceParent(String);

impl TraceParent {
    /// `00-<32 hex trace id>-<16 hex span id>-<2 hex flags>` (W3C Trace Context, version 00).
    pub fn parse(s: &str) -> Option<Self> {
        let parts: Vec<&str> = s.split('-').collect();
        let hex =
            |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        let valid = matches!(parts.as_slice(), [v, t, p, f] if *v == "00" && hex(t, 32) && hex(p, 16) && hex(f, 2));
        valid.then(|| Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An item's version: 0 before its first event, then +1 per event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Version(pub u64);

impl Version {
    pub const NONE: Version = Version(0);
    pub fn next(self) -> Version {
        Version(self.0 + 1)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One stock line: a sku at a location. Its stream is `{location}/{sku}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ItemKey {
    pub location: LocationId,
    pub sku: Sku,
}

impl fmt::Display for ItemKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.location, self.sku)
    }
}

/// The unit of consistency: every stream is versioned and changed atomically on its own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StreamId {
    Item(ItemKey),
    Product(Sku),
    /// `locations/{location}`.
    Location(LocationId),
}

impl StreamId {
    /// Parses the subject form `{location}/{sku}`, `products/{sku}` or `locations/{location}`.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let (left, right) = s.split_once('/').ok_or(IdError::BadName)?;
        if left == "products" {
            return Ok(StreamId::Product(Sku::parse(right)?));
        }
        if left == "locations" {
            return Ok(StreamId::Location(LocationId::parse(right)?));
        }
        Ok(StreamId::Item(ItemKey { location: LocationId::parse(left)?, sku: Sku::parse(right)? }))
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamId::Item(key) => key.fmt(f),
            StreamId::Product(sku) => write!(f, "products/{sku}"),
            StreamId::Location(location) => write!(f, "locations/{location}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pattern the document and messages show is the rule `valid_name` checks: its length bound is
    /// `MAX_NAME_LEN`, and names at and past the bound, and with each kind of character, are judged alike.
    #[test]
    fn the_name_pattern_states_the_rule_the_parser_checks() {
        assert!(NAME_PATTERN.ends_with(&format!("{{0,{}}}$", MAX_NAME_LEN - 1)));
        let longest = "a".repeat(MAX_NAME_LEN);
        assert!(valid_name(&longest) && !valid_name(&format!("{longest}a")));
        for (name, valid) in [("a", true), ("0.b_c-d", true), (".a", false), ("-a", false), ("A", false), ("", false)] {
            assert_eq!(valid_name(name), valid, "{name}");
        }
    }

    #[test]
    fn names_follow_the_api_rule() {
        assert!(Sku::parse("apple-pie").is_ok());
        assert!(Sku::parse("a").is_ok());
        assert!(Sku::parse(&"a".repeat(64)).is_ok());
        assert!(Sku::parse(&"a".repeat(65)).is_err());
        assert!(Sku::parse("Apple").is_err(), "upper case is refused, not rewritten");
        assert!(Sku::parse("-pie").is_err());
        assert!(Sku::parse("").is_err());
        assert!(Sku::parse("pie/1").is_err());
        assert!(LocationId::parse("store 1").is_err());
    }

    #[test]
    fn event_ids_are_deterministic_per_command_and_stream() {
        let command = CommandId::parse("6f1b3c9e-3f4a-4a53-9a6e-0b7f1f0c2d11").unwrap();
        let a = StreamId::parse("store-1/apple-pie").unwrap();
        let b = StreamId::parse("store-2/apple-pie").unwrap();
        assert_eq!(EventId::derive(command, &a), EventId::derive(command, &a));
        assert_ne!(EventId::derive(command, &a), EventId::derive(command, &b));
    }

    #[test]
    fn stream_ids_round_trip() {
        for s in ["store-1/apple-pie", "products/apple-pie", "locations/store-1"] {
            assert_eq!(StreamId::parse(s).unwrap().to_string(), s);
        }
        assert!(StreamId::parse("store-1").is_err());
    }
}
