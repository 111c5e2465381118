//! The `query` function: inventory, one item, the summary across locations, the locations and activity, answered by
//! `application::queries` (health, a route of this function too, is `health.rs`). Transport only: read the query
//! string, call the use case, answer with the ETag (304 when the client has it, or when `waitForChange` passed its
//! timeout unchanged), or, for a listing asked for as CSV, stream its export (`application::export`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderMap, HeaderValue};
use utoipa::IntoParams;

use super::App;
use crate::application::queries::{ActivityQuery, Answer, AtVersion, InventoryQuery, QueryError, Wait};
use crate::application::queries::{decode_activity_cursor, decode_cursor};
use crate::contract::FieldError;
#[allow(unused_imports)] // named by the OpenAPI annotations
use crate::contract::views::{ActivityView, InventoryPageView, LocationsView, SingleItem, SummaryView};
#[allow(unused_imports)] // named by the OpenAPI annotations
use crate::contract::wire_rules::{GTIN_RULE, GtinFilter, Identifier, IdentifierFilter};
use crate::domain::ids::NAME_PATTERN;
use crate::domain::{EventKind, Gtin, ItemKey, LocationId, Sku, Timestamp};
use crate::http::export::{self, Format};
#[allow(unused_imports)] // named by the OpenAPI annotations
use crate::http::responses::{InvalidParameters, NotModified};
use crate::http::{Problem, etag};

/// The function's routes (behind the key where keys are needed).
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/api/inventory", get(inventory))
        .route("/api/inventory/summary", get(summary))
        .route("/api/inventory/{location}/{sku}", get(item))
        .route("/api/activity", get(activity))
        .route("/api/locations", get(locations))
}

/// The answer, with its ETag; 304 when the client already has it.
fn render(headers: &HeaderMap, answer: Answer) -> Response {
    match answer {
        Answer::Body(body) => etag::respond(headers, body),
        Answer::Unchanged { tag } => etag::not_modified(&tag),
    }
}

/// A listing's answer: the same URL answers JSON or CSV by `Accept`, so caches must keep them apart.
fn listing(mut response: Response) -> Response {
    response.headers_mut().insert(http::header::VARY, HeaderValue::from_static("Accept"));
    response
}

/// Examples of the CSV exports, for the OpenAPI document.
const CSV_INVENTORY: &str = "location,sku,name,quantity,version,reorderLevel,low,needsCount,updatedAt\r\n\
    store-1,apple-pie,\"Pie, \"\"Bramley\"\"\",17,3,10,false,false,2026-01-15T10:30:00.000000Z\r\n";
const CSV_SUMMARY: &str = "sku,name,location,quantity,total,reorderLevel,low,barcodes\r\n\
    apple-pie,Apple Pie,store-1,17,21,10,false,5012345678900\r\napple-pie,Apple Pie,van,4,21,10,false,5012345678900\r\n";
const CSV_ACTIVITY: &str = "eventId,type,location,sku,name,delta,amount,outcome,quantity,version,commandId,\
    scannerId,caller,reason,transferId,from,to,note,occurredAt,recordedAt,unknownLocation\r\n\
    9b2f0c4e-5d6a-5b7c-8d9e-0f1a2b3c4d5e,pieshop.StockRemoved,van,apple-pie,,-2,2,applied,4,2,\
    9d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a,till-1,van-1,sold,,,,,,2026-01-15T10:31:00.000000Z,\r\n";

fn problem(error: QueryError) -> Problem {
    match &error {
        QueryError::NotFound(_) => Problem::not_found(error.to_string()),
        QueryError::ReadModel(e) => Problem::from(e),
        QueryError::Encoding(e) => Problem::internal(e),
        QueryError::Csv(e) => Problem::internal(e),
    }
}

/// Query-string parameters (the last of repeated names wins, except where every one is read), with typed
/// readers that answer 400.
pub struct Params {
    last: HashMap<String, String>,
    every: Vec<(String, String)>,
}

impl Params {
    fn parse(raw: Option<String>) -> Self {
        let raw = raw.unwrap_or_default();
        let every: Vec<(String, String)> = form_urlencoded::parse(raw.as_bytes()).into_owned().collect();
        Self { last: every.iter().cloned().collect(), every }
    }

    /// A filter or token: an empty value means none was given (`?location=` is no filter).
    fn get(&self, name: &str) -> Option<&str> {
        self.given(name).filter(|v| !v.is_empty())
    }

    /// A number or flag: an empty value is a bad one, as the OpenAPI document says.
    fn given(&self, name: &str) -> Option<&str> {
        self.last.get(name).map(String::as_str)
    }

    /// Every value of a parameter that may be repeated, in order.
    fn every(&self, name: &str) -> impl Iterator<Item = &str> {
        self.every.iter().filter(move |(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// An RFC 3339 instant. A `+` of an offset that arrived as a space (a `+` not written `%2B` in a query
    /// string means a space) is read as the `+` it was: an RFC 3339 date-time has no space.
    fn instant(&self, field: &str) -> Result<Option<Timestamp>, Problem> {
        self.get(field)
            .map(|v| Timestamp::parse(&v.replace(' ', "+")).map_err(|e| Problem::invalid_field(field, &e.to_string())))
            .transpose()
    }

    /// What the listing answers in: `format`, else `Accept` (`http::export`).
    fn format(&self, headers: &HeaderMap) -> Result<Format, Problem> {
        export::format(headers, self.get("format"))
    }

    fn name<T, E>(&self, field: &str, parse: fn(&str) -> Result<T, E>) -> Result<Option<T>, Problem> {
        self.get(field)
            .map(|v| parse(v).map_err(|_| Problem::invalid_field(field, &format!("must match {NAME_PATTERN}"))))
            .transpose()
    }

    fn number(&self, field: &str, min: u64, max: u64, default: u64) -> Result<u64, Problem> {
        match self.given(field) {
            None => Ok(default),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| Problem::invalid_field(field, &format!("must be an integer from {min} to {max}"))),
        }
    }

    fn timeout(&self, max: u64, default: u64) -> Result<Duration, Problem> {
        Ok(Duration::from_secs(self.number("timeout", 1, max, default)?))
    }

    fn flag(&self, field: &str) -> Result<bool, Problem> {
        match self.given(field) {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(_) => Err(Problem::invalid_field(field, "must be true or false")),
        }
    }

    /// `waitForChange` and its `timeout`. The timeout is read whether or not it is used: a bad one is a 400 even
    /// on a request that does not wait.
    fn wait(&self) -> Result<Wait, Problem> {
        let timeout = self.timeout(60, 25)?;
        Ok(match self.get("waitForChange") {
            None => Wait::Now,
            Some(given) => Wait::ForChange { held: etag::normalize(given), timeout },
        })
    }
}

/// `If-None-Match` on every query: 304 when the answer's ETag is in it (weak forms and `*` match too).
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct Conditional {
    /// ETags the client holds.
    #[param(rename = "If-None-Match", nullable = false)]
    if_none_match: Option<String>,
}

/// Long polling on the list queries (`Params` reads them): hold the request until the answer's ETag differs.
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Waiting {
    /// An ETag (quoted or bare): answer as soon as the answer's ETag differs, or 304 after `timeout`.
    wait_for_change: Option<String>,
    /// Seconds to hold a `waitForChange` request (default 25).
    #[param(minimum = 1, maximum = 60)]
    timeout: Option<u32>,
}

/// `GET /api/inventory/{location}/{sku}`'s waiting: `waitForChange`, or `minVersion` (`Params` reads them).
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ItemWaiting {
    /// Wait (up to `timeout`) until the read model holds at least this version of the item.
    #[param(minimum = 0, maximum = 9_223_372_036_854_775_807_u64)]
    min_version: Option<u64>,
    /// An ETag (quoted or bare): answer as soon as the answer's ETag differs, or 304 after `timeout`.
    wait_for_change: Option<String>,
    /// Seconds to wait (default 10 for `minVersion`, 25 for `waitForChange`).
    #[param(minimum = 1, maximum = 60)]
    timeout: Option<u32>,
}

/// The item's path (`item` parses them: an identifier outside the rule is a 400, never a 404).
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct ItemParams {
    #[param(value_type = Identifier, inline, example = "store-1")]
    location: String,
    #[param(value_type = Identifier, inline, example = "apple-pie")]
    sku: String,
}

/// `GET /api/inventory`'s filters and paging (`inventory_query` reads them). An empty value is no filter.
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[allow(dead_code)]
pub struct InventoryParams {
    #[param(value_type = Option<IdentifierFilter>, inline, example = "store-1")]
    location: Option<String>,
    #[param(value_type = Option<IdentifierFilter>, inline, example = "apple-pie")]
    sku: Option<String>,
    /// Words, each matched as a prefix of a word of the product name or sku (never a query language).
    #[param(max_length = 200, example = "apple")]
    q: Option<String>,
    /// Only items at or below their reorder level.
    low_stock: Option<bool>,
    /// Only the items of the product that has this barcode (a GTIN with a valid check digit, else 400; GTINs
    /// compare as 14 digits). A barcode no product has is an empty page, not a 404.
    #[param(value_type = Option<GtinFilter>, inline, example = "4006381333931")]
    barcode: Option<String>,
    /// Items per page (default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// `nextCursor` of the previous page (opaque; a cursor this server did not issue is a 400).
    cursor: Option<String>,
}

/// `GET /api/activity`'s filters and paging (`activity_query` reads them). An empty value is no filter.
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ActivityParams {
    /// With `sku`: one item's whole history.
    #[param(value_type = Option<IdentifierFilter>, inline)]
    location: Option<String>,
    #[param(value_type = Option<IdentifierFilter>, inline)]
    sku: Option<String>,
    /// Event types (described by `event_types`).
    #[param(schema_with = event_types)]
    r#type: Option<String>,
    /// Events recorded at or after this instant (described by `since`).
    #[param(schema_with = since)]
    from: Option<String>,
    /// Events recorded before this instant (described by `until`).
    #[param(schema_with = until)]
    to: Option<String>,
    /// Events per page (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// `nextCursor` of the previous page (opaque; a cursor this server did not issue for `/api/activity` is a 400).
    cursor: Option<String>,
}

/// `format` on the listings: `csv` answers the whole filtered result as a CSV attachment, as `Accept: text/csv`
/// does (read in `Params::format`).
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ExportParams {
    /// `csv`: the whole filtered result as CSV, not a page (`limit`, `cursor`, `waitForChange` and
    /// `If-None-Match` are then not used); `json` (the default, unless `Accept` prefers `text/csv`).
    #[param(pattern = "^(json|csv)?$", example = "csv")]
    format: Option<String>,
}

/// An instant filter's schema: an RFC 3339 date-time, or empty (no filter, as for every filter).
fn since() -> utoipa::openapi::Schema {
    instant_filter("Events recorded at or after this instant (RFC 3339, e.g. `2026-01-15T00:00:00Z`).")
}

fn until() -> utoipa::openapi::Schema {
    instant_filter("Events recorded before this instant (RFC 3339, later than `from`).")
}

fn instant_filter(description: &str) -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
    let instant =
        ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)));
    let empty = ObjectBuilder::new().schema_type(Type::String).max_length(Some(0));
    utoipa::openapi::Schema::AnyOf(AnyOfBuilder::new().item(instant).item(empty).description(Some(description)).build())
}

/// The `type` filter's schema: known type names, either form, comma-separated.
fn event_types() -> utoipa::openapi::Object {
    let names = EventKind::ALL.iter().map(|kind| kind.type_name().trim_start_matches("pieshop.")).collect::<Vec<_>>();
    let one = format!("(pieshop\\.)?({})", names.join("|"));
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some(format!("^({one}(,{one})*)?$")))
        .description(Some(
            "Event types, as the events name them (`pieshop.StockReceived`) or without the prefix \
             (`StockReceived`); several comma-separated, or the parameter repeated. An unknown one is a 400.",
        ))
        .examples([serde_json::json!("StockReceived,StockRemoved")])
        .build()
}

/// `type`: each name in either form, comma-separated or repeated; an unknown one is a 400 naming the known.
fn event_kinds(params: &Params) -> Result<Vec<EventKind>, Problem> {
    let mut kinds = Vec::new();
    for name in params.every("type").flat_map(|v| v.split(',')).map(str::trim).filter(|n| !n.is_empty()) {
        let kind = EventKind::from_type_name(name)
            .or_else(|| EventKind::from_type_name(&format!("pieshop.{name}")))
            .ok_or_else(|| {
                let known: Vec<&str> = EventKind::ALL.iter().map(|k| k.type_name()).collect();
                Problem::invalid_field("type", &format!("must be one of {} (the prefix is optional)", known.join(", ")))
            })?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    Ok(kinds)
}

fn activity_query(params: &Params) -> Result<ActivityQuery, Problem> {
    let (from, to) = (params.instant("from")?, params.instant("to")?);
    if let (Some(from), Some(to)) = (from, to)
        && from >= to
    {
        return Err(Problem::invalid_field("to", "must be later than from"));
    }
    let cursor = |text| decode_activity_cursor(text).map_err(|bad| Problem::invalid_field("cursor", &bad.to_string()));
    Ok(ActivityQuery {
        location: params.name("location", LocationId::parse)?,
        sku: params.name("sku", Sku::parse)?,
        kinds: event_kinds(params)?,
        from,
        to,
        limit: params.number("limit", 1, 500, 50)? as usize,
        before: params.get("cursor").map(cursor).transpose()?,
    })
}

fn inventory_query(params: &Params) -> Result<InventoryQuery, Problem> {
    let text = params.get("q").map(str::to_owned);
    if text.as_ref().is_some_and(|t| t.chars().count() > 200) {
        return Err(Problem::invalid_field("q", "must be at most 200 characters"));
    }
    let cursor = |text| decode_cursor(text).map_err(|bad| Problem::invalid_field("cursor", &bad.to_string()));
    Ok(InventoryQuery {
        location: params.name("location", LocationId::parse)?,
        sku: params.name("sku", Sku::parse)?,
        text,
        low_stock_only: params.flag("lowStock")?,
        barcode: params
            .get("barcode")
            .map(|text| {
                Gtin::parse(text).map_err(|bad| Problem::invalid_field("barcode", &format!("{GTIN_RULE}: {bad}")))
            })
            .transpose()?,
        limit: params.number("limit", 1, 500, 100)? as usize,
        after: params.get("cursor").map(cursor).transpose()?,
    })
}

/// `GET /api/inventory`.
#[utoipa::path(
    get,
    path = "/api/inventory",
    tag = "queries",
    operation_id = "listInventory",
    summary = "Items, filtered, sorted by sku then location, paged",
    params(InventoryParams, ExportParams, Waiting, Conditional),
    responses(
        (status = 200, description = "A page of items; `nextCursor` fetches the next. As CSV (`format=csv` or \
            `Accept: text/csv`): every item the filters match, one row each, streamed as an attachment, without \
            an ETag.",
            content((InventoryPageView = "application/json"), (String = "text/csv", example = json!(CSV_INVENTORY))),
            headers(("ETag" = String, description = "A strong ETag of this answer (JSON only)"),
                ("Cache-Control" = String, description = "`no-cache`: revalidate with `If-None-Match` (CSV: `no-store`)"),
                ("Content-Disposition" = String, description = "CSV only: `attachment; filename=\"inventory.csv\"`"))),
        (status = 304, response = NotModified),
        (status = 400, response = InvalidParameters),
    )
)]
pub async fn inventory(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Problem> {
    let params = Params::parse(raw);
    let query = inventory_query(&params)?;
    let wait = params.wait()?;
    if params.format(&headers)? == Format::Csv {
        let chunks = app.queries.exports().inventory(&query).await.map_err(problem)?;
        return Ok(export::attachment("inventory.csv", chunks));
    }
    let answer = app.queries.inventory(&query, &wait).await.map_err(problem)?;
    Ok(listing(render(&headers, answer)))
}

/// `GET /api/inventory/summary`.
#[utoipa::path(
    get,
    path = "/api/inventory/summary",
    tag = "queries",
    operation_id = "inventorySummary",
    summary = "One view across locations",
    params(ExportParams, Waiting, Conditional),
    responses(
        (status = 200, description = "Every product's total by location, and every location's total. As CSV \
            (`format=csv` or `Accept: text/csv`): one row per product and location, streamed as an attachment, \
            without an ETag.",
            content((SummaryView = "application/json"), (String = "text/csv", example = json!(CSV_SUMMARY))),
            headers(("ETag" = String, description = "A strong ETag of this answer (JSON only)"),
                ("Cache-Control" = String, description = "`no-cache`: revalidate with `If-None-Match` (CSV: `no-store`)"),
                ("Content-Disposition" = String, description = "CSV only: `attachment; filename=\"inventory-summary.csv\"`"))),
        (status = 304, response = NotModified),
        (status = 400, response = InvalidParameters),
    )
)]
pub async fn summary(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Problem> {
    let params = Params::parse(raw);
    let wait = params.wait()?;
    if params.format(&headers)? == Format::Csv {
        let chunks = app.queries.exports().summary().await.map_err(problem)?;
        return Ok(export::attachment("inventory-summary.csv", chunks));
    }
    let answer = app.queries.summary(&wait).await.map_err(problem)?;
    Ok(listing(render(&headers, answer)))
}

/// `GET /api/inventory/{location}/{sku}`, optionally waiting for `minVersion`.
#[utoipa::path(
    get,
    path = "/api/inventory/{location}/{sku}",
    tag = "queries",
    operation_id = "getItem",
    summary = "One item; with `minVersion`, once the read model has caught up",
    params(ItemParams, ItemWaiting, Conditional),
    responses(
        (status = 200, description = "The item.", body = SingleItem,
            headers(("ETag" = String, description = "A strong ETag of this answer"),
                ("Cache-Control" = String, description = "`no-cache`: revalidate with `If-None-Match`"),
                ("X-Stale" = String, description = "`true`: `minVersion` was not reached before `timeout`; this is what the read model holds"))),
        (status = 304, response = NotModified),
        (status = 400, response = InvalidParameters),
        (status = 404, description = "No stock was ever recorded for this item (with `minVersion` past `timeout`, \
            also `X-Stale: true`).", content_type = "application/problem+json",
            body = ref("#/components/schemas/NotFoundProblem")),
    )
)]
pub async fn item(
    State(app): State<Arc<App>>,
    Path((location, sku)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Problem> {
    let params = Params::parse(raw);
    // The contract rejects identifiers outside its rule (400), whatever the item: only a valid one can be 404.
    let location = LocationId::parse(&location);
    let sku = Sku::parse(&sku);
    let (location, sku) = match (location, sku) {
        (Ok(location), Ok(sku)) => (location, sku),
        (location, sku) => {
            let rule = &format!("must match {NAME_PATTERN}");
            let errors = [("location", location.is_err()), ("sku", sku.is_err())];
            let errors = errors.iter().filter(|(_, bad)| *bad).map(|(field, _)| FieldError::new(*field, rule));
            return Err(Problem::invalid(errors.collect()));
        }
    };
    let key = ItemKey { location, sku };
    let Some(min_version) = params.given("minVersion") else {
        let answer = app.queries.item(&key, &params.wait()?).await.map_err(problem)?;
        return Ok(render(&headers, answer));
    };
    // Bounded as the document's int64 says (clients and schema tools hold integers as int64; no item reaches it).
    let min_version = min_version
        .parse::<u64>()
        .ok()
        .filter(|v| i64::try_from(*v).is_ok())
        .ok_or_else(|| Problem::invalid_field("minVersion", "must be an integer from 0 to 9223372036854775807"))?;
    let timeout = params.timeout(60, 10)?;
    match app.queries.item_at_version(&key, min_version, timeout).await.map_err(problem)? {
        AtVersion::Reached(body) => Ok(etag::respond(&headers, body)),
        AtVersion::Stale(answer) => {
            let mut response = match answer {
                Ok(body) => etag::respond(&headers, body),
                Err(error) => problem(error).into_response(),
            };
            response.headers_mut().insert("x-stale", HeaderValue::from_static("true"));
            Ok(response)
        }
    }
}

/// `GET /api/activity`.
#[utoipa::path(
    get,
    path = "/api/activity",
    tag = "queries",
    operation_id = "listActivity",
    summary = "The whole history, newest first, filtered and paged",
    params(ActivityParams, ExportParams, Waiting, Conditional),
    responses(
        (status = 200, description = "A page of events, newest first; `nextCursor` fetches the older ones. As CSV \
            (`format=csv` or `Accept: text/csv`): every event the filters match, one row each, streamed as an \
            attachment, without an ETag.",
            content((ActivityView = "application/json"), (String = "text/csv", example = json!(CSV_ACTIVITY))),
            headers(("ETag" = String, description = "A strong ETag of this answer (JSON only)"),
                ("Cache-Control" = String, description = "`no-cache`: revalidate with `If-None-Match` (CSV: `no-store`)"),
                ("Content-Disposition" = String, description = "CSV only: `attachment; filename=\"activity.csv\"`"))),
        (status = 304, response = NotModified),
        (status = 400, response = InvalidParameters),
    )
)]
pub async fn activity(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Problem> {
    let params = Params::parse(raw);
    let query = activity_query(&params)?;
    let wait = params.wait()?;
    if params.format(&headers)? == Format::Csv {
        let chunks = app.queries.exports().activity(&query).await.map_err(problem)?;
        return Ok(export::attachment("activity.csv", chunks));
    }
    let answer = app.queries.activity(&query, &wait).await.map_err(problem)?;
    Ok(listing(render(&headers, answer)))
}

/// `GET /api/locations`.
#[utoipa::path(
    get,
    path = "/api/locations",
    tag = "queries",
    operation_id = "listLocations",
    summary = "Every defined location, and every location holding stock without being defined",
    params(Waiting, Conditional),
    responses(
        (status = 200, description = "The locations, sorted by id: defined ones (retired ones flagged) and those \
            holding stock without being defined (`defined: false`), so a manager can define them or move their stock.",
            body = LocationsView,
            headers(("ETag" = String, description = "A strong ETag of this answer"),
                ("Cache-Control" = String, description = "`no-cache`: revalidate with `If-None-Match`"))),
        (status = 304, response = NotModified),
        (status = 400, response = InvalidParameters),
    )
)]
pub async fn locations(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, Problem> {
    let params = Params::parse(raw);
    let answer = app.queries.locations(&params.wait()?).await.map_err(problem)?;
    Ok(render(&headers, answer))
}
