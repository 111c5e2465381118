//! The location check of `PIESHOP_UNKNOWN_LOCATIONS=refuse`: before a client's stock command is decided, the
//! locations it names are read from the write store, and a live command naming one that is not defined, or is
//! retired, is refused; a record naming one is applied and flagged (`domain::location::admit`).
//!
//! It is not a cross-partition transaction, and cannot cheaply be one: a location and an item are separate streams
//! (on Cosmos DB separate logical partitions, which no transactional batch spans), so the check reads the location
//! and the item's commit is conditional only on the item. A `retireLocation` that commits between the check and
//! the item's commit therefore lets that one live command land at the just-retired location, as it would had it
//! arrived a moment earlier: its stock is recorded, never lost, and shows in `GET /api/locations` at the retired
//! location, where a manager moves it. Every command checked after the retirement's commit is refused. A state
//! served from the adapter's memory (`Snapshot::cached`) may miss another instance's definition, so a refusal
//! decided on one is checked again against the store before it is final.

use super::commands::{CommandError, CommandService};
use crate::domain::location::{self, named_locations};
use crate::domain::{Aggregate, Command, LocationState, StreamId, UnknownLocations};

impl CommandService {
    /// `Ok(true)`: a record to be flagged `unknownLocation`; `Ok(false)`: go ahead as sent (always under `allow`).
    pub(super) async fn admit(&self, command: &Command) -> Result<bool, CommandError> {
        let named = named_locations(&command.action);
        if self.unknown_locations == UnknownLocations::Allow || named.is_empty() {
            return Ok(false);
        }
        let streams: Vec<StreamId> = named.into_iter().map(|l| StreamId::Location(l.clone())).collect();
        let (states, cached) = self.location_states(&streams).await?;
        match location::admit(command, &states) {
            Err(_) if cached => {
                for stream in &streams {
                    self.store.forget(stream);
                }
                let (states, _) = self.location_states(&streams).await?;
                Ok(location::admit(command, &states)?)
            }
            decided => Ok(decided?),
        }
    }

    /// The locations' states (empty for one never defined), and whether any came from memory.
    async fn location_states(&self, streams: &[StreamId]) -> Result<(Vec<LocationState>, bool), CommandError> {
        let mut states = Vec::with_capacity(streams.len());
        let mut cached = false;
        for stream in streams {
            let StreamId::Location(id) = stream else { continue };
            let state = match self.store.load(stream).await? {
                Some(snapshot) => {
                    cached |= snapshot.cached;
                    match snapshot.aggregate {
                        Aggregate::Location(state) => state,
                        _ => LocationState::empty(id.clone()),
                    }
                }
                None => LocationState::empty(id.clone()),
            };
            states.push(state);
        }
        Ok((states, cached))
    }
}
