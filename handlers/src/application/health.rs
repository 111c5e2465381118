//! What `/api/health` reports beyond liveness, gathered from the use cases that know it: how far the read model is
//! behind what this process accepted, what waits to be published, and how the projection and live push are doing.

use super::commands::CommandService;
use super::projection::{Lag, Projection};
use super::push_changes::PushCounts;
use super::queries::QueryService;
use super::relay::{Backlog, Relay};
use crate::domain::Timestamp;
use crate::ports::{ReadModelError, StoreError};

/// One look at this process and the stores it reads.
#[derive(Debug)]
pub struct HealthReport {
    /// The `recordedAt` of the newest event the read model holds.
    pub as_of: Option<Timestamp>,
    /// The newest event this process accepted since it started.
    pub accepted_at: Option<Timestamp>,
    /// How far the read model is behind what this process accepted (`behind_ms`).
    pub behind_ms: u64,
    /// Events the projection could not read.
    pub malformed_events: u64,
    /// Other publishers' events the projection acknowledged and ignored.
    pub ignored_events: u64,
    /// Events committed and not yet published.
    pub backlog: Backlog,
    pub lag: Lag,
    /// Live push's counts, when this process pushes.
    pub push: Option<PushCounts>,
}

/// A store could not be read for the report.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    #[error(transparent)]
    ReadModel(#[from] ReadModelError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Reads the report.
pub async fn report(
    queries: &QueryService,
    relay: &Relay,
    projection: &Projection,
    commands: &CommandService,
) -> Result<HealthReport, HealthError> {
    let as_of = queries.as_of().await?;
    let backlog = relay.backlog().await?;
    let accepted_at = commands.last_accepted();
    Ok(HealthReport {
        as_of,
        accepted_at,
        behind_ms: behind_ms(accepted_at, as_of, Timestamp::now()),
        malformed_events: projection.malformed_count(),
        ignored_events: projection.ignored_count(),
        backlog,
        lag: projection.lag(),
        push: projection.push().map(|push| push.counts()),
    })
}

/// How far the read model is behind what this process accepted: 0 once it holds the newest accepted event (a
/// quiet shop is up to date however long ago that was), else at least the age of that event.
fn behind_ms(accepted: Option<Timestamp>, as_of: Option<Timestamp>, now: Timestamp) -> u64 {
    match accepted {
        Some(accepted) if as_of.is_none_or(|as_of| as_of < accepted) => {
            ((now.unix_seconds() - accepted.unix_seconds()).max(0.0) * 1000.0) as u64
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behind_is_zero_once_the_read_model_holds_the_newest_accepted_event_however_old() {
        let at = |s: &str| Timestamp::parse(s).unwrap();
        let now = at("2026-01-15T13:00:00Z");
        let accepted = at("2026-01-15T10:00:00Z");
        assert_eq!(behind_ms(Some(accepted), Some(accepted), now), 0, "a quiet shop is up to date");
        assert_eq!(behind_ms(None, Some(accepted), now), 0, "nothing accepted here");
        assert_eq!(behind_ms(Some(at("2026-01-15T12:59:58Z")), Some(accepted), now), 2000);
        assert_eq!(behind_ms(Some(at("2026-01-15T12:59:59Z")), None, now), 1000);
    }
}
