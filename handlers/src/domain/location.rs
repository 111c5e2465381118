//! Locations: the places stock is kept (a shop floor, a storeroom, a cold room, a van), defined and retired by a
//! manager, and the rule that, where the shop asks for it, keeps a scanner's typo from creating a phantom store.

use serde::{Deserialize, Serialize};

use super::{Action, Command, CommandId, DomainError, EventId, LocationId, ProductName, StreamId, Timestamp};
use super::{Caller, TraceParent, Version};

/// A location's display name: the same rule as a product's (1–120 characters, no control characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LocationName(String);

impl LocationName {
    pub fn parse(s: &str) -> Result<Self, super::product::ProductNameError> {
        ProductName::parse(s).map(|name| Self(name.as_str().to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What kind of place a location is (`docs/API.md`, "Locations").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LocationKind {
    Shop,
    Storeroom,
    Coldroom,
    Van,
    Other,
}

impl LocationKind {
    pub const ALL: [LocationKind; 5] =
        [LocationKind::Shop, LocationKind::Storeroom, LocationKind::Coldroom, LocationKind::Van, LocationKind::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            LocationKind::Shop => "shop",
            LocationKind::Storeroom => "storeroom",
            LocationKind::Coldroom => "coldroom",
            LocationKind::Van => "van",
            LocationKind::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A location's definition (version 0: never defined). Its own stream, `locations/{location}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocationState {
    pub location: LocationId,
    pub name: Option<LocationName>,
    /// Stored as `locationKind`: `kind` is the member `Aggregate` is told apart by.
    #[serde(rename = "locationKind")]
    pub kind: Option<LocationKind>,
    #[serde(default)]
    pub retired: bool,
    pub version: Version,
}

/// A location was defined (or renamed, or re-activated), or retired. Carries the state after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationEvent {
    pub id: EventId,
    /// `LocationDefined` or `LocationRetired`.
    pub retire: bool,
    pub location: LocationId,
    pub name: LocationName,
    pub kind: LocationKind,
    /// Retired after the event (a `LocationDefined` re-activates a retired location).
    pub retired: bool,
    pub version: Version,
    pub command_id: CommandId,
    pub recorded_at: Timestamp,
    /// The trace of the command that made it.
    pub trace: Option<TraceParent>,
    /// Who sent the command, as the transport verified it.
    pub caller: Option<Caller>,
}

impl LocationState {
    pub fn empty(location: LocationId) -> Self {
        Self { location, name: None, kind: None, retired: false, version: Version::NONE }
    }

    /// Defined and not retired: live commands may name it.
    pub fn active(&self) -> bool {
        self.version != Version::NONE && !self.retired
    }

    /// Decides a `defineLocation` or `retireLocation` against this state. Defining creates, renames, changes the
    /// kind, and re-activates a retired location; retiring needs a defined location (409 `unknown-location`
    /// otherwise) and may be repeated.
    pub fn decide(&self, command: &Command, now: Timestamp) -> Result<(LocationState, LocationEvent), DomainError> {
        super::item::check_expected(command, self.version)?;
        let (retire, name, kind) = match &command.action {
            Action::DefineLocation { name, kind, .. } => (false, name.clone(), *kind),
            Action::RetireLocation { .. } => match (&self.name, self.kind) {
                (Some(name), Some(kind)) => (true, name.clone(), kind),
                _ => return Err(DomainError::UnknownLocation { location: self.location.clone() }),
            },
            _ => unreachable!("stock and product commands are routed to their own streams"),
        };
        let version = self.version.next();
        let next = LocationState {
            location: self.location.clone(),
            name: Some(name.clone()),
            kind: Some(kind),
            retired: retire,
            version,
        };
        let event = LocationEvent {
            id: EventId::derive(command.id, &StreamId::Location(self.location.clone())),
            retire,
            location: self.location.clone(),
            name,
            kind,
            retired: retire,
            version,
            command_id: command.id,
            recorded_at: now,
            trace: command.meta.trace.clone(),
            caller: command.meta.caller.clone(),
        };
        Ok((next, event))
    }
}

/// What a shop does with commands naming a location nobody defined (`PIESHOP_UNKNOWN_LOCATIONS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownLocations {
    /// Any well-formed location is taken, as in API 1.1 (the default).
    #[default]
    Allow,
    /// A live command naming an undefined or retired location is refused; a record is applied and flagged.
    Refuse,
}

/// The locations a client's stock command names and that `UnknownLocations::Refuse` checks: one for a receive,
/// removal or count, both ends of a transfer. A transfer's derived second half names none: its first half was
/// checked, and refusing the second would strand the stock in flight.
pub fn named_locations(action: &Action) -> Vec<&LocationId> {
    match action {
        Action::Receive { item, .. } | Action::Remove { item, .. } | Action::Count { item, .. } => vec![&item.location],
        Action::Transfer { from, to, .. } => vec![from, to],
        Action::TransferIn { .. }
        | Action::DefineProduct { .. }
        | Action::DefineLocation { .. }
        | Action::RetireLocation { .. } => Vec::new(),
    }
}

/// Whether `command` may go ahead given the states of the locations it names (`named_locations`, in that order):
/// `Ok(false)` when every one is active; `Ok(true)` when one is not and the command is a record, which is never
/// refused for it (it happened; it is applied and flagged `unknownLocation`); a live command is refused
/// (`UnknownLocation` for one never defined, `LocationRetired` for a retired one; the first such end decides).
pub fn admit(command: &Command, locations: &[LocationState]) -> Result<bool, DomainError> {
    let Some(inactive) = locations.iter().find(|l| !l.active()) else { return Ok(false) };
    if command.meta.occurred_at.is_some() {
        return Ok(true);
    }
    let location = inactive.location.clone();
    Err(if inactive.retired {
        DomainError::LocationRetired { location }
    } else {
        DomainError::UnknownLocation { location }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Amount, CommandMeta, ItemKey, Sku};

    fn id(s: &str) -> LocationId {
        LocationId::parse(s).unwrap()
    }

    fn command(action: Action) -> Command {
        Command { id: CommandId(uuid::Uuid::new_v4()), action, meta: CommandMeta::default() }
    }

    fn define(location: &str, name: &str, kind: LocationKind) -> Command {
        command(Action::DefineLocation { location: id(location), name: LocationName::parse(name).unwrap(), kind })
    }

    fn receive(location: &str) -> Command {
        let item = ItemKey { location: id(location), sku: Sku::parse("apple-pie").unwrap() };
        command(Action::Receive { item, quantity: Amount::new(1).unwrap() })
    }

    #[test]
    fn defining_creates_renames_and_reactivates() {
        let now = Timestamp::now();
        let (defined, event) =
            LocationState::empty(id("store-1")).decide(&define("store-1", "High St", LocationKind::Shop), now).unwrap();
        assert!(defined.active() && !event.retire && event.version == Version(1));
        let retire = command(Action::RetireLocation { location: id("store-1") });
        let (retired, event) = defined.decide(&retire, now).unwrap();
        assert!(retired.retired && event.retire && event.name.as_str() == "High St");
        let (again, event) = retired.decide(&define("store-1", "Market Sq", LocationKind::Van), now).unwrap();
        assert!(again.active() && !event.retired && event.kind == LocationKind::Van && again.version == Version(3));
    }

    /// The stores keep a location as an `Aggregate`, which is tagged by `kind`: the state reads back as written.
    #[test]
    fn a_stored_location_reads_back() {
        let mut state = LocationState::empty(id("store-1"));
        (state.name, state.kind, state.version) =
            (LocationName::parse("High St").ok(), Some(LocationKind::Shop), Version(1));
        let stored = serde_json::to_string(&crate::domain::Aggregate::Location(state.clone())).unwrap();
        assert_eq!(
            serde_json::from_str::<crate::domain::Aggregate>(&stored).unwrap(),
            crate::domain::Aggregate::Location(state)
        );
    }

    #[test]
    fn retiring_an_undefined_location_is_refused() {
        let retire = command(Action::RetireLocation { location: id("store-l") });
        let refused = LocationState::empty(id("store-l")).decide(&retire, Timestamp::now());
        assert_eq!(refused.unwrap_err(), DomainError::UnknownLocation { location: id("store-l") });
    }

    #[test]
    fn live_commands_to_inactive_locations_are_refused_records_flagged() {
        let undefined = LocationState::empty(id("store-l"));
        let mut retired = undefined.clone();
        (retired.version, retired.retired) = (Version(2), true);
        let live = receive("store-l");
        assert_eq!(
            admit(&live, std::slice::from_ref(&undefined)),
            Err(DomainError::UnknownLocation { location: id("store-l") })
        );
        assert_eq!(
            admit(&live, std::slice::from_ref(&retired)),
            Err(DomainError::LocationRetired { location: id("store-l") })
        );
        let mut record = live.clone();
        record.meta.occurred_at = Some(Timestamp::now());
        assert_eq!(admit(&record, &[undefined, retired]), Ok(true));
        let mut active = LocationState::empty(id("store-1"));
        active.version = Version(1);
        assert_eq!(admit(&receive("store-1"), &[active]), Ok(false));
    }
}
