//! RFC 9457 problem details: every 4xx/5xx answer of the API, mapped from the error types in this one place.
//! A backend that is down or throttled is 503 with `Retry-After`; data that cannot be read back is 500. Either
//! way the cause is logged, never returned.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::{Map, Value, json};

use crate::application::commands::CommandError;
use crate::contract::FieldError;
use crate::domain::DomainError;
use crate::ports::{ReadModelError, StoreError};

/// Seconds a client should wait before retrying after a 503.
pub const RETRY_AFTER_SECONDS: u32 = 2;

/// A problem answer: `{"type": "urn:pieshop:problem:<slug>", "title", "status", "detail", ...extensions}`.
#[derive(Debug, Clone)]
pub struct Problem {
    pub status: StatusCode,
    pub slug: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub extensions: Map<String, Value>,
}

impl Problem {
    /// A problem of a kind of the catalogue: its slug, status and title come from there.
    pub fn new(kind: &Kind, detail: impl Into<String>) -> Self {
        // Infallible: every status in the catalogue is a valid one (a test builds each).
        let status = StatusCode::from_u16(kind.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self { status, slug: kind.slug, title: kind.title, detail: detail.into(), extensions: Map::new() }
    }

    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.extensions.insert(key.to_owned(), value);
        self
    }

    pub fn invalid(errors: Vec<FieldError>) -> Self {
        let detail = errors.iter().map(|e| format!("{} {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
        Self::new(&INVALID_REQUEST, detail).with("errors", json!(errors))
    }

    pub fn invalid_field(field: &str, message: &str) -> Self {
        Self::invalid(vec![FieldError::new(field, message)])
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(&NOT_FOUND, detail)
    }

    pub fn method_not_allowed() -> Self {
        Self::new(&METHOD_NOT_ALLOWED, "this path does not take that method")
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(&PAYLOAD_TOO_LARGE, format!("the body may be at most {limit} bytes")).with("limit", json!(limit))
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(&UNSUPPORTED_MEDIA_TYPE, "send the body as application/json")
    }

    pub fn unauthorized() -> Self {
        Self::new(&UNAUTHORIZED, "a valid function key is required")
    }

    /// A backend is down or throttled; the client should retry after `Retry-After`. The cause is logged,
    /// never returned.
    pub fn unavailable(cause: &dyn std::fmt::Display) -> Self {
        tracing::warn!(%cause, "backend unavailable");
        Self::new(&UNAVAILABLE, "a backend is unavailable; retry later")
    }

    /// A bug or corrupt data: logged in full, answered without internals.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(&INTERNAL, "the server failed; it has been logged")
    }

    pub fn command_id_reused() -> Self {
        Self::new(&COMMAND_ID_REUSED, "this commandId was already used for a different command")
    }

    pub fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("type".into(), json!(format!("urn:pieshop:problem:{}", self.slug)));
        body.insert("title".into(), json!(self.title));
        body.insert("status".into(), json!(self.status.as_u16()));
        body.insert("detail".into(), json!(self.detail));
        body.extend(self.extensions.clone());
        Value::Object(body)
    }
}

impl From<&DomainError> for Problem {
    fn from(error: &DomainError) -> Self {
        let detail = error.to_string();
        match error {
            DomainError::InsufficientStock { available, requested } => Problem::new(&INSUFFICIENT_STOCK, detail)
                .with("available", json!(available))
                .with("requested", json!(requested)),
            DomainError::VersionConflict { expected, actual } => Problem::new(&VERSION_CONFLICT, detail)
                .with("expectedVersion", json!(expected))
                .with("actualVersion", json!(actual)),
            DomainError::QuantityLimit { on_hand, adding, limit } => Problem::new(&QUANTITY_LIMIT, detail)
                .with("onHand", json!(on_hand))
                .with("adding", json!(adding))
                .with("limit", json!(limit)),
            DomainError::UnknownLocation { location } => {
                Problem::new(&UNKNOWN_LOCATION, detail).with("location", json!(location))
            }
            DomainError::LocationRetired { location } => {
                Problem::new(&LOCATION_RETIRED, detail).with("location", json!(location))
            }
            DomainError::SameLocation => Problem::invalid_field("to", "must differ from 'from'"),
            DomainError::InFuture { .. } => Problem::invalid_field("occurredAt", &detail),
            DomainError::CountBeforeHistory { occurred_at, horizon } => Problem::new(&COUNT_BEFORE_HISTORY, detail)
                .with("occurredAt", json!(occurred_at))
                .with("historyFrom", json!(horizon)),
            DomainError::BarcodeTaken { barcode, sku } => {
                Problem::new(&BARCODE_TAKEN, detail).with("barcode", json!(barcode)).with("sku", json!(sku))
            }
            DomainError::UnknownBarcode { barcode } => {
                Problem::new(&UNKNOWN_BARCODE, detail).with("barcode", json!(barcode))
            }
        }
    }
}

impl From<&StoreError> for Problem {
    fn from(error: &StoreError) -> Self {
        match error {
            StoreError::Unavailable(_) => Problem::unavailable(error),
            StoreError::Corrupt(_) => Problem::internal(error),
        }
    }
}

impl From<&ReadModelError> for Problem {
    fn from(error: &ReadModelError) -> Self {
        match error {
            ReadModelError::Unavailable(_) => Problem::unavailable(error),
            ReadModelError::Corrupt(_) => Problem::internal(error),
        }
    }
}

impl From<&CommandError> for Problem {
    fn from(error: &CommandError) -> Self {
        match error {
            CommandError::Domain(e) => Problem::from(e),
            CommandError::IdReused => Problem::command_id_reused(),
            CommandError::Contention => Problem::unavailable(error),
            CommandError::Store(e) => Problem::from(e),
            CommandError::Unresolved(errors) => Problem::invalid(errors.clone()),
        }
    }
}

/// A problem's extension member, as the OpenAPI document describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member {
    /// A count of units (`requested`, `adding`, `limit`).
    Count,
    /// Stock on hand (`available`, `onHand`): below zero when records took more than an item was known to hold.
    Stock,
    /// An instant (`occurredAt`, `historyFrom`).
    Instant,
    /// An item version (`expectedVersion`, `actualVersion`).
    Version,
    /// `errors`: every bad field, by name.
    FieldErrors,
    /// A GTIN, as the command wrote it (`barcode`).
    Barcode,
    /// A product's sku (`sku`).
    Sku,
    /// A location id (`location`).
    Location,
}

/// One kind of problem: its slug, status and title, which every problem of the kind is built from, and what the
/// OpenAPI document says of its members. `CATALOGUE` lists every kind; a test holds the members the constructors
/// add to the ones described, so the document cannot miss a type or a member.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    pub slug: &'static str,
    pub status: u16,
    pub title: &'static str,
    pub members: &'static [(&'static str, Member)],
}

// Every problem the API answers, each stated once: the constructors above build them, the document describes them.

pub const INVALID_REQUEST: Kind = Kind {
    slug: "invalid-request",
    status: 400,
    title: "The request is invalid",
    members: &[("errors", Member::FieldErrors)],
};
pub const UNAUTHORIZED: Kind = Kind { slug: "unauthorized", status: 401, title: "Unauthorized", members: &[] };
pub const NOT_FOUND: Kind = Kind { slug: "not-found", status: 404, title: "Not found", members: &[] };
pub const METHOD_NOT_ALLOWED: Kind =
    Kind { slug: "method-not-allowed", status: 405, title: "Method not allowed", members: &[] };
pub const INSUFFICIENT_STOCK: Kind = Kind {
    slug: "insufficient-stock",
    status: 409,
    title: "Insufficient stock",
    members: &[("available", Member::Stock), ("requested", Member::Count)],
};
pub const VERSION_CONFLICT: Kind = Kind {
    slug: "version-conflict",
    status: 409,
    title: "Version conflict",
    members: &[("expectedVersion", Member::Version), ("actualVersion", Member::Version)],
};
pub const QUANTITY_LIMIT: Kind = Kind {
    slug: "quantity-limit",
    status: 409,
    title: "Quantity limit exceeded",
    members: &[("onHand", Member::Stock), ("adding", Member::Count), ("limit", Member::Count)],
};
pub const COUNT_BEFORE_HISTORY: Kind = Kind {
    slug: "count-before-history",
    status: 409,
    title: "Count older than the kept history",
    members: &[("occurredAt", Member::Instant), ("historyFrom", Member::Instant)],
};
pub const BARCODE_TAKEN: Kind = Kind {
    slug: "barcode-taken",
    status: 409,
    title: "Barcode taken by another product",
    members: &[("barcode", Member::Barcode), ("sku", Member::Sku)],
};
pub const UNKNOWN_BARCODE: Kind =
    Kind { slug: "unknown-barcode", status: 409, title: "Unknown barcode", members: &[("barcode", Member::Barcode)] };
pub const UNKNOWN_LOCATION: Kind = Kind {
    slug: "unknown-location",
    status: 409,
    title: "Unknown location",
    members: &[("location", Member::Location)],
};
pub const LOCATION_RETIRED: Kind = Kind {
    slug: "location-retired",
    status: 409,
    title: "Location retired",
    members: &[("location", Member::Location)],
};
pub const COMMAND_ID_REUSED: Kind =
    Kind { slug: "command-id-reused", status: 409, title: "Command id reused", members: &[] };
pub const PAYLOAD_TOO_LARGE: Kind =
    Kind { slug: "payload-too-large", status: 413, title: "Payload too large", members: &[("limit", Member::Count)] };
pub const UNSUPPORTED_MEDIA_TYPE: Kind =
    Kind { slug: "unsupported-media-type", status: 415, title: "Unsupported media type", members: &[] };
pub const INTERNAL: Kind = Kind { slug: "internal", status: 500, title: "Internal error", members: &[] };
pub const UNAVAILABLE: Kind = Kind { slug: "unavailable", status: 503, title: "Service unavailable", members: &[] };

/// The kinds in the order the document lists them.
pub const CATALOGUE: &[Kind] = &[
    INVALID_REQUEST,
    UNAUTHORIZED,
    NOT_FOUND,
    METHOD_NOT_ALLOWED,
    INSUFFICIENT_STOCK,
    VERSION_CONFLICT,
    QUANTITY_LIMIT,
    COUNT_BEFORE_HISTORY,
    BARCODE_TAKEN,
    UNKNOWN_BARCODE,
    UNKNOWN_LOCATION,
    LOCATION_RETIRED,
    COMMAND_ID_REUSED,
    PAYLOAD_TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
    INTERNAL,
    UNAVAILABLE,
];

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body().to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Gtin, LocationId, Quantity, Sku, Timestamp, Version};

    fn gtin() -> Gtin {
        Gtin::parse("4006381333931").unwrap()
    }

    /// One problem of every kind, built by the constructors the handlers use.
    fn every_problem() -> Vec<Problem> {
        let q = |n| Quantity::new(n).unwrap();
        vec![
            Problem::invalid_field("quantity", "must be an integer"),
            Problem::unauthorized(),
            Problem::not_found("no such path"),
            Problem::method_not_allowed(),
            Problem::from(&DomainError::InsufficientStock { available: q(1).into(), requested: 2 }),
            Problem::from(&DomainError::VersionConflict { expected: Version(1), actual: Version(2) }),
            Problem::from(&DomainError::QuantityLimit { on_hand: q(1).into(), adding: 2, limit: 3 }),
            Problem::from(&DomainError::CountBeforeHistory {
                occurred_at: Timestamp::now(),
                horizon: Timestamp::now(),
            }),
            Problem::from(&DomainError::BarcodeTaken { barcode: gtin(), sku: Sku::parse("apple-pie").unwrap() }),
            Problem::from(&DomainError::UnknownBarcode { barcode: gtin() }),
            Problem::from(&DomainError::UnknownLocation { location: LocationId::parse("store-l").unwrap() }),
            Problem::from(&DomainError::LocationRetired { location: LocationId::parse("van-2").unwrap() }),
            Problem::command_id_reused(),
            Problem::payload_too_large(10),
            Problem::unsupported_media_type(),
            Problem::internal(&"cause"),
            Problem::unavailable(&"cause"),
        ]
    }

    #[test]
    fn the_catalogue_describes_every_problem_the_constructors_build() {
        let problems = every_problem();
        assert_eq!(problems.len(), CATALOGUE.len());
        for (problem, kind) in problems.iter().zip(CATALOGUE) {
            assert_eq!((problem.slug, problem.status.as_u16(), problem.title), (kind.slug, kind.status, kind.title));
            let members: Vec<&str> = problem.extensions.keys().map(String::as_str).collect();
            let mut described: Vec<&str> = kind.members.iter().map(|(name, _)| *name).collect();
            described.sort_unstable();
            assert_eq!(members, described, "{}", kind.slug);
        }
    }
}
