//! The `query` function: inventory, one item, the summary across locations, activity and health, answered by
//! `application::queries`. Every answer carries an ETag; `waitForChange` holds a request until the answer would
//! differ, and `minVersion` until the read model has caught up with a client's write.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use serde_json::json;
use tokio::time::Instant;
use utoipa::IntoParams;

use super::App;
use crate::application::queries::QueryService;
#[allow(unused_imports)] // named by the OpenAPI annotations
use crate::contract::views::{ActivityView, Health, InventoryPageView, SingleItem, SummaryView};
#[allow(unused_imports)]
use crate::contract::wire_rules::{Identifier, IdentifierFilter};
use crate::contract::{FieldError, views};
use crate::domain::ids::NAME_PATTERN;
use crate::domain::{ItemKey, LocationId, Sku, Timestamp};
#[allow(unused_imports)]
use crate::http::responses::{InvalidParameters, NotModified};
use crate::http::{Problem, etag};
use crate::ports::ReadModelError;
use crate::ports::read_model::{ActivityQuery, InventoryQuery};

/// Waiting requests re-read the read model this often even without a local change signal: in Azure the
/// event may have been applied by another instance.
const POLL_INTERVAL: Duration = Duration::from_millis(1000);

/// Answers at once, or (with `waitForChange`) as soon as the answer's ETag differs from the one given.
async fn answer<F, Fut>(
    queries: &QueryService,
    headers: &HeaderMap,
    params: &Params,
    key: &str,
    compute: F,
) -> Result<Response, Problem>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Bytes, Problem>>,
{
    // Read whether or not it is used: a bad `timeout` is a 400 even on a request that does not wait.
    let timeout = params.timeout(60, 25)?;
    let Some(waiting_on) = params.get("waitForChange").map(etag::normalize) else {
        return Ok(etag::respond(headers, queries.cached(key, &compute).await?));
    };
    let deadline = Instant::now() + timeout;
    let mut changed = queries.changes();
    loop {
        let body = queries.cached(key, &compute).await?;
        if etag::of(&body) != waiting_on {
            return Ok(etag::respond(headers, body));
        }
        tokio::select! {
            _ = changed.changed() => {}
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
            _ = tokio::time::sleep_until(deadline) => return Ok(etag::not_modified(&waiting_on)),
        }
    }
}
fn read_failed(error: ReadModelError) -> Problem {
    Problem::from(&error)
}

/// An answer's JSON text (views are plain structs of strings and numbers: serializing them cannot fail).
fn to_bytes(view: &impl serde::Serialize) -> Result<Bytes, Problem> {
    serde_json::to_vec(view).map(Bytes::from).map_err(|e| Problem::internal(&e))
}

/// Query-string parameters (the last of repeated names wins), with typed readers that answer 400.
pub struct Params(HashMap<String, String>);

impl Params {
    fn parse(raw: Option<String>) -> Self {
        let raw = raw.unwrap_or_default();
        Self(form_urlencoded::parse(raw.as_bytes()).into_owned().collect())
    }

    /// A filter or token: an empty value means none was given (`?location=` is no filter).
    fn get(&self, name: &str) -> Option<&str> {
        self.given(name).filter(|v| !v.is_empty())
    }

    /// A number or flag: an empty value is a bad one, as the OpenAPI document says (schemathesis sent
    /// `?limit=` and it was taken as the default).
    fn given(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
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

    /// A canonical cache key: the path and the parameters that shape the answer, sorted.
    fn cache_key(&self, path: &str, shaping: &[&str]) -> String {
        let mut parts: Vec<String> =
            shaping.iter().filter_map(|name| self.get(name).map(|v| format!("{name}={v}"))).collect();
        parts.sort();
        format!("{path}?{}", parts.join("&"))
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
    /// Items per page (default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// `nextCursor` of the previous page (opaque; a cursor this server did not issue is a 400).
    cursor: Option<String>,
}

/// `GET /api/activity`'s filters (read in `activity`). An empty value is no filter.
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ActivityParams {
    #[param(value_type = Option<IdentifierFilter>, inline)]
    location: Option<String>,
    #[param(value_type = Option<IdentifierFilter>, inline)]
    sku: Option<String>,
    /// Events to answer (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// `nextCursor` is the last (sku, location) of a page, base64url-encoded JSON: opaque to clients.
fn encode_cursor(sku: &Sku, location: &LocationId) -> String {
    URL_SAFE_NO_PAD.encode(json!([sku, location]).to_string())
}

fn decode_cursor(text: &str) -> Result<(Sku, LocationId), Problem> {
    let bad = || Problem::invalid_field("cursor", "is not a cursor this server issued");
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
    let (sku, location): (String, String) = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    Ok((Sku::parse(&sku).map_err(|_| bad())?, LocationId::parse(&location).map_err(|_| bad())?))
}

fn inventory_query(params: &Params) -> Result<InventoryQuery, Problem> {
    let text = params.get("q").map(str::to_owned);
    if text.as_ref().is_some_and(|t| t.chars().count() > 200) {
        return Err(Problem::invalid_field("q", "must be at most 200 characters"));
    }
    Ok(InventoryQuery {
        location: params.name("location", LocationId::parse)?,
        sku: params.name("sku", Sku::parse)?,
        text,
        low_stock_only: params.flag("lowStock")?,
        limit: params.number("limit", 1, 500, 100)? as usize,
        after: params.get("cursor").map(decode_cursor).transpose()?,
    })
}

/// `GET /api/inventory`.
#[utoipa::path(
    get,
    path = "/api/inventory",
    tag = "queries",
    operation_id = "listInventory",
    summary = "Items, filtered, sorted by sku then location, paged",
    params(InventoryParams, Waiting, Conditional),
    responses(
        (status = 200, description = "A page of items; `nextCursor` fetches the next.", body = InventoryPageView,
            headers(("ETag" = String, description = "A strong ETag of this answer"),
                ("Cache-Control" = String, description = "`no-cache`: revalidate with `If-None-Match`"))),
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
    let key = params.cache_key("inventory", &["location", "sku", "q", "lowStock", "limit", "cursor"]);
    let queries = &app.queries;
    answer(queries, &headers, &params, &key, || async {
        let page = queries.read_model.inventory(&query).await.map_err(read_failed)?;
        let as_of = queries.read_model.as_of().await.map_err(read_failed)?;
        let next = page.items.last().filter(|_| page.more).map(|last| encode_cursor(&last.sku, &last.location));
        to_bytes(&views::inventory(&page, next, as_of))
    })
    .await
}

/// `GET /api/inventory/summary`.
#[utoipa::path(
    get,
    path = "/api/inventory/summary",
    tag = "queries",
    operation_id = "inventorySummary",
    summary = "One view across locations",
    params(Waiting, Conditional),
    responses(
        (status = 200, description = "Every product's total by location, and every location's total.", body = SummaryView,
            headers(("ETag" = String, description = "A strong ETag of this answer"),
                ("Cache-Control" = String, description = "`no-cache`: revalidate with `If-None-Match`"))),
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
    let queries = &app.queries;
    answer(queries, &headers, &params, "summary", || async {
        let summary = queries.read_model.summary().await.map_err(read_failed)?;
        let as_of = queries.read_model.as_of().await.map_err(read_failed)?;
        to_bytes(&views::summary(&summary, as_of))
    })
    .await
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
        let cache_key = format!("item:{key}");
        return answer(&app.queries, &headers, &params, &cache_key, || item_body(&app.queries, &key)).await;
    };
    // Bounded as the document's int64 says (clients and schema tools hold integers as int64; no item reaches it).
    let min_version = min_version
        .parse::<u64>()
        .ok()
        .filter(|v| i64::try_from(*v).is_ok())
        .ok_or_else(|| Problem::invalid_field("minVersion", "must be an integer from 0 to 9223372036854775807"))?;
    wait_for_version(&app.queries, &headers, &key, min_version, params.timeout(60, 10)?).await
}

async fn item_body(queries: &QueryService, key: &ItemKey) -> Result<Bytes, Problem> {
    let item = queries.read_model.item(key).await.map_err(read_failed)?;
    let item = item.ok_or_else(|| Problem::not_found(format!("no stock recorded for {key}")))?;
    let as_of = queries.read_model.as_of().await.map_err(read_failed)?;
    to_bytes(&views::single_item(&item, as_of))
}

/// Waits until the read model holds at least `min_version` of the item; answers what it has with
/// `X-Stale: true` if the timeout passes first.
async fn wait_for_version(
    queries: &QueryService,
    headers: &HeaderMap,
    key: &ItemKey,
    min_version: u64,
    timeout: Duration,
) -> Result<Response, Problem> {
    let deadline = Instant::now() + timeout;
    let mut changed = queries.changes();
    loop {
        let item = queries.read_model.item(key).await.map_err(read_failed)?;
        if item.as_ref().is_some_and(|i| i.version.0 >= min_version) {
            return Ok(etag::respond(headers, item_body(queries, key).await?));
        }
        tokio::select! {
            _ = changed.changed() => continue,
            _ = tokio::time::sleep(POLL_INTERVAL) => continue,
            _ = tokio::time::sleep_until(deadline) => {}
        }
        let mut response = match item_body(queries, key).await {
            Ok(body) => etag::respond(headers, body),
            Err(problem) => problem.into_response(),
        };
        response.headers_mut().insert("x-stale", HeaderValue::from_static("true"));
        return Ok(response);
    }
}

/// `GET /api/activity`.
#[utoipa::path(
    get,
    path = "/api/activity",
    tag = "queries",
    operation_id = "listActivity",
    summary = "Recent events, newest first",
    params(ActivityParams, Waiting, Conditional),
    responses(
        (status = 200, description = "The newest events.", body = ActivityView,
            headers(("ETag" = String, description = "A strong ETag of this answer"),
                ("Cache-Control" = String, description = "`no-cache`: revalidate with `If-None-Match`"))),
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
    let query = ActivityQuery {
        location: params.name("location", LocationId::parse)?,
        sku: params.name("sku", Sku::parse)?,
        limit: params.number("limit", 1, 500, 50)? as usize,
    };
    let key = params.cache_key("activity", &["location", "sku", "limit"]);
    let queries = &app.queries;
    answer(queries, &headers, &params, &key, || async {
        let events = queries.read_model.activity(&query).await.map_err(read_failed)?;
        let as_of = queries.read_model.as_of().await.map_err(read_failed)?;
        to_bytes(&views::activity(&events, as_of))
    })
    .await
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

/// `GET /api/health`: liveness plus what an operator wants at a glance.
#[utoipa::path(
    get,
    path = "/api/health",
    tag = "operations",
    operation_id = "health",
    summary = "Liveness, and what an operator wants at a glance",
    params(Conditional),
    responses(
        (status = 200, description = "Up.", body = Health, headers(("ETag" = String), ("Cache-Control" = String))),
        (status = 304, description = "The answer's ETag is in `If-None-Match`: no body.", headers(("ETag" = String))),
    ),
    security(())
)]
pub async fn health(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, Problem> {
    let as_of = app.queries.read_model.as_of().await.map_err(read_failed)?;
    let backlog = app.relay.backlog().await.map_err(|e| Problem::from(&e))?;
    let lag = app.projection.lag();
    let accepted = app.commands.last_accepted();
    let push = app.projection.push().map(|p| p.counts()).unwrap_or_default();
    let body = views::Health {
        status: "ok",
        backend: app.backend,
        version: env!("CARGO_PKG_VERSION"),
        as_of: as_of.map(|t| t.to_string()),
        accepted_at: accepted.map(|t| t.to_string()),
        behind_ms: behind_ms(accepted, as_of, Timestamp::now()),
        malformed_events: app.projection.malformed_count(),
        backlog: views::BacklogView {
            events: backlog.events,
            more: backlog.more,
            oldest_age_seconds: backlog.oldest_age.map(|age| age.as_secs_f64()),
        },
        lag_ms: lag.applied_at_millis.map(|_| lag.last_millis),
        push: views::PushView {
            hub: match (&app.hub, app.projection.push()) {
                (Some(_), _) => "self",
                (None, Some(_)) => "azure-signalr",
                (None, None) => "none",
            },
            clients: app.hub.as_ref().map(|hub| hub.clients()),
            sent: push.sent,
            failed: push.failed,
            dropped: push.dropped,
        },
    };
    Ok(etag::respond(&headers, to_bytes(&body)?))
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
