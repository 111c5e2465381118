//! Instants in UTC, written in one fixed RFC 3339 form so that text order is time order.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// An instant in UTC years 0000–9999, always shown as `YYYY-MM-DDThh:mm:ss.ffffffZ`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Timestamp(OffsetDateTime);

/// The text was not an RFC 3339 date-time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be an RFC 3339 date-time, e.g. 2026-01-15T10:30:00Z")]
pub struct TimestampError;

impl Timestamp {
    pub fn now() -> Self {
        Self::at(OffsetDateTime::now_utc())
    }

    /// Parses RFC 3339 text whose instant, in UTC, falls in years 0000–9999 (what the fixed form can write
    /// back: `9999-12-31T23:59:59-01:00` is year 10000 in UTC, and `0000-01-01T00:00:00+01:00` year -1).
    pub fn parse(s: &str) -> Result<Self, TimestampError> {
        let t = OffsetDateTime::parse(s, &Rfc3339).map_err(|_| TimestampError)?;
        let utc = t.checked_to_offset(UtcOffset::UTC).ok_or(TimestampError)?;
        if !(0..=9999).contains(&utc.year()) {
            return Err(TimestampError);
        }
        Ok(Self::at(utc))
    }

    /// Kept at the precision it is written with (microseconds), so a round trip through text is exact.
    fn at(t: OffsetDateTime) -> Self {
        let micros = t.microsecond();
        Self(t.replace_microsecond(micros).unwrap_or(t))
    }

    /// This instant moved back by `d` (saturating at the epoch's limits).
    pub fn minus(self, d: std::time::Duration) -> Self {
        Self::at(self.0.checked_sub(time::Duration::try_from(d).unwrap_or(time::Duration::ZERO)).unwrap_or(self.0))
    }

    /// This instant moved forward by `d` (saturating at the epoch's limits).
    pub fn plus(self, d: std::time::Duration) -> Self {
        Self::at(self.0.checked_add(time::Duration::try_from(d).unwrap_or(time::Duration::ZERO)).unwrap_or(self.0))
    }

    /// Seconds since the Unix epoch, with fractions.
    pub fn unix_seconds(self) -> f64 {
        self.0.unix_timestamp_nanos() as f64 / 1e9
    }
}

/// Written field by field: `time`'s formatter builds a `String` first, and instants are written several times per
/// command (the event, its stored row, the read model's rows). The year is 0000–9999 by construction.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.microsecond()
        )
    }
}

impl TryFrom<String> for Timestamp {
    type Error = TimestampError;
    fn try_from(s: String) -> Result<Self, TimestampError> {
        Self::parse(&s)
    }
}
impl From<Timestamp> for String {
    fn from(t: Timestamp) -> String {
        t.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_fixed_width_utc_so_it_sorts_as_time() {
        let t = Timestamp::parse("2026-01-15T11:30:00+01:00").unwrap();
        assert_eq!(t.to_string(), "2026-01-15T10:30:00.000000Z");
        let early = "0001-02-03T04:05:06.000007Z";
        assert_eq!(Timestamp::parse(early).unwrap().to_string(), early, "every field zero-padded to its width");
        assert!(Timestamp::parse("yesterday").is_err());
        let now = Timestamp::now();
        assert_eq!(Timestamp::parse(&now.to_string()).unwrap(), now, "text round trip is exact");
    }

    #[test]
    fn instants_the_fixed_form_cannot_write_are_refused_not_panicked_on() {
        for text in ["9999-12-31T23:59:59-01:00", "0000-01-01T00:00:00+01:00"] {
            assert!(Timestamp::parse(text).is_err(), "{text}");
        }
        for text in ["9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z"] {
            let t = Timestamp::parse(text).unwrap();
            assert_eq!(Timestamp::parse(&t.to_string()).unwrap(), t, "{text} round-trips");
        }
    }
}
