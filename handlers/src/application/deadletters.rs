//! Recovering what Event Grid dead-lettered (`handler deadletters list | replay`): every event of every blob
//! waiting in the dead-letter source goes through the projection, as a delivery would. The projection is
//! idempotent (it keeps only newer versions), so replaying an event the read model already holds changes
//! nothing, and replaying twice is harmless.
//!
//! A blob is moved aside only after its events are applied: under `replayed/` when every one was, under
//! `unreadable/` when something in it is not a pieshop event (the good events in it are applied all the same).
//! A blob holding an event of a type or data version this release does not read stays where it is, for a newer
//! release's replay (its other events are applied all the same).
//! A failure of the read model stops the replay with the blob still in place, to be replayed again.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use super::projection::{Outcome, Projection};
use crate::contract::dead_letter::{self, DeadLettered};
use crate::contract::event_json;
use crate::ports::dead_letters::Aside;
use crate::ports::{DeadLetterError, DeadLetters, ReadModelError};

/// A replay could not go on; the blobs not yet moved aside are where they were.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Source(#[from] DeadLetterError),
    #[error("read model unavailable while replaying {blob}: {source}")]
    ReadModel { blob: String, source: ReadModelError },
}

/// One event that could not be read, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Malformed {
    /// Its position in the blob's array (the blob itself when it could not be read at all).
    pub index: Option<usize>,
    pub error: String,
}

/// What a blob holds (`list`) or what replaying it did (`replay`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobReport {
    pub name: String,
    pub events: usize,
    /// Events that are pieshop events (what a replay would apply).
    pub readable: usize,
    /// Events the read model did not hold yet (`replay` only).
    pub applied: usize,
    /// Events it already held at that version or newer.
    pub already_there: usize,
    pub malformed: Vec<Malformed>,
    /// Events of a type or data version this release does not read: left for a newer release.
    pub newer: usize,
    /// Event Grid's reasons for giving up (`deadLetterReason`), with how many events each.
    pub reasons: BTreeMap<String, usize>,
    /// What the last delivery attempt met (`lastDeliveryOutcome`: `TimedOut`, `BadRequest`, ...), with counts.
    pub last_outcomes: BTreeMap<String, usize>,
    /// Where the blob is now, once moved aside.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moved_to: Option<String>,
}

/// What a whole `list` or `replay` found or did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// `list` or `replay`.
    pub action: &'static str,
    pub source: String,
    pub blobs: Vec<BlobReport>,
    pub totals: Totals,
}

/// Sums over every blob.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    pub blobs: usize,
    pub events: usize,
    pub readable: usize,
    pub applied: usize,
    pub already_there: usize,
    pub malformed: usize,
    pub newer: usize,
    pub moved_aside: usize,
}

impl Report {
    fn new(action: &'static str, source: String, blobs: Vec<BlobReport>) -> Self {
        let totals = Totals {
            blobs: blobs.len(),
            events: blobs.iter().map(|b| b.events).sum(),
            readable: blobs.iter().map(|b| b.readable).sum(),
            applied: blobs.iter().map(|b| b.applied).sum(),
            already_there: blobs.iter().map(|b| b.already_there).sum(),
            malformed: blobs.iter().map(|b| b.malformed.len()).sum(),
            newer: blobs.iter().map(|b| b.newer).sum(),
            moved_aside: blobs.iter().filter(|b| b.moved_to.is_some()).count(),
        };
        Report { action, source, blobs, totals }
    }
}

/// The waiting blobs, oldest first: the date folders are not zero-padded (`.../11/29/5/` is older than
/// `.../11/29/17/`), so numbers compare as numbers. Order does not matter to the read model (it keeps the newest
/// version whatever the order); it makes reports read in time order.
async fn waiting(source: &dyn DeadLetters) -> Result<Vec<String>, DeadLetterError> {
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    enum Segment<'a> {
        Number(u64),
        Text(&'a str),
    }
    fn key(name: &str) -> Vec<Segment<'_>> {
        name.split('/').map(|s| s.parse().map_or(Segment::Text(s), Segment::Number)).collect()
    }
    let mut names = source.list().await?;
    names.sort_by(|a, b| key(a).cmp(&key(b)));
    Ok(names)
}

/// Reads every waiting blob and says what it holds; changes nothing.
pub async fn list(source: &dyn DeadLetters) -> Result<Report, ReplayError> {
    let mut blobs = Vec::new();
    for name in waiting(source).await? {
        let bytes = source.read(&name).await?;
        let mut report = BlobReport { name, ..Default::default() };
        match dead_letter::parse_blob(&bytes) {
            Ok(events) => {
                count_reasons(&mut report, &events);
                for (index, dead) in events.iter().enumerate() {
                    match event_json::decode(&dead.event) {
                        Ok(_) => report.readable += 1,
                        Err(error) if error.is_not_yet_readable() => report.newer += 1,
                        Err(error) => report.malformed.push(Malformed { index: Some(index), error: error.to_string() }),
                    }
                }
            }
            Err(error) => report.malformed.push(Malformed { index: None, error: error.to_string() }),
        }
        blobs.push(report);
    }
    Ok(Report::new("list", source.location(), blobs))
}

/// Applies every event of every waiting blob through the projection, and moves each blob aside once done.
pub async fn replay(source: &dyn DeadLetters, projection: &Arc<Projection>) -> Result<Report, ReplayError> {
    let mut blobs = Vec::new();
    for name in waiting(source).await? {
        let bytes = source.read(&name).await?;
        let mut report = BlobReport { name: name.clone(), ..Default::default() };
        match dead_letter::parse_blob(&bytes) {
            Ok(events) => {
                count_reasons(&mut report, &events);
                let payloads: Vec<_> = events.into_iter().map(|dead| dead.event).collect();
                let outcomes = projection
                    .handle_all(&payloads)
                    .await
                    .map_err(|source| ReplayError::ReadModel { blob: name.clone(), source })?;
                for (index, outcome) in outcomes.into_iter().enumerate() {
                    match outcome {
                        Outcome::Applied(_) => report.applied += 1,
                        Outcome::Stale(_) => report.already_there += 1,
                        // Another publisher's event: the projection acknowledges it live, so one in pieshop's
                        // dead letters means something else went wrong; a person looks (kept under unreadable/).
                        Outcome::Malformed(error) | Outcome::Foreign(error) => {
                            report.malformed.push(Malformed { index: Some(index), error: error.to_string() })
                        }
                        Outcome::NotYetReadable(_) => report.newer += 1,
                    }
                }
            }
            Err(error) => report.malformed.push(Malformed { index: None, error: error.to_string() }),
        }
        report.readable = report.applied + report.already_there;
        if report.newer == 0 {
            let aside = if report.malformed.is_empty() { Aside::Replayed } else { Aside::Unreadable };
            report.moved_to = Some(source.move_aside(&name, aside).await?);
        }
        blobs.push(report);
    }
    Ok(Report::new("replay", source.location(), blobs))
}

fn count_reasons(report: &mut BlobReport, events: &[DeadLettered]) {
    report.events = events.len();
    for dead in events {
        let reason = dead.properties.dead_letter_reason.clone().unwrap_or_else(|| "unknown".to_owned());
        *report.reasons.entry(reason).or_default() += 1;
        if let Some(outcome) = &dead.properties.last_delivery_outcome {
            *report.last_outcomes.entry(outcome.clone()).or_default() += 1;
        }
    }
}

impl std::fmt::Display for Report {
    /// The human form `handler deadletters` prints: one line per blob, then the totals.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for blob in &self.blobs {
            let mut reasons: Vec<String> = blob.reasons.iter().map(|(r, n)| format!("{r} x{n}")).collect();
            if !blob.last_outcomes.is_empty() {
                let outcomes: Vec<String> = blob.last_outcomes.iter().map(|(o, n)| format!("{o} x{n}")).collect();
                reasons.push(format!("last outcome {}", outcomes.join(", ")));
            }
            let counts = match self.action {
                "list" => format!("{} readable", blob.readable),
                _ => format!("{} applied, {} already there", blob.applied, blob.already_there),
            };
            let reasons = if reasons.is_empty() { String::new() } else { format!(" ({})", reasons.join("; ")) };
            write!(
                f,
                "{}: {} event(s){reasons}: {counts}, {} malformed",
                blob.name,
                blob.events,
                blob.malformed.len()
            )?;
            if blob.newer > 0 {
                write!(f, ", {} for a newer release (left in place)", blob.newer)?;
            }
            if let Some(to) = &blob.moved_to {
                write!(f, "; moved to {to}")?;
            }
            writeln!(f)?;
            for malformed in &blob.malformed {
                match malformed.index {
                    Some(index) => writeln!(f, "  event {index}: {}", malformed.error)?,
                    None => writeln!(f, "  blob: {}", malformed.error)?,
                }
            }
        }
        let t = &self.totals;
        match self.action {
            "list" => write!(
                f,
                "deadletters list {}: {} blob(s), {} event(s): {} readable, {} malformed",
                self.source, t.blobs, t.events, t.readable, t.malformed
            ),
            _ => write!(
                f,
                "deadletters replay {}: {} blob(s), {} event(s): {} applied, {} already there, {} malformed; \
                 {} blob(s) moved aside",
                self.source, t.blobs, t.events, t.applied, t.already_there, t.malformed, t.moved_aside
            ),
        }?;
        if t.newer > 0 {
            write!(f, "; {} event(s) for a newer release left in place", t.newer)?;
        }
        Ok(())
    }
}
