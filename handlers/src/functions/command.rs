//! The `command` function: `POST /api/commands` and `POST /api/commands/batch`, thin over
//! `application::commands` (parse the body, execute, answer).

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Serialize;
use serde_json::Value;

use tracing::Instrument;

use super::App;
use crate::application::commands::Reply;
use crate::contract::answer_json;
use crate::contract::command_body::{self, ParsedCommand};
#[allow(unused_imports)] // named by the OpenAPI annotations
use crate::contract::command_schema::{BatchBody, CommandBody};
use crate::contract::command_schema::{BatchResponse, BatchResult, RejectedCommand};
use crate::contract::views::{self, CommandResponse};
use crate::domain::Caller;
use crate::http::Problem;
use crate::http::body::{BATCH_LIMIT, COMMAND_LIMIT, json_body};
use crate::http::caller::VerifiedCaller;
#[allow(unused_imports)]
use crate::http::responses::{PayloadTooLarge, UnsupportedMediaType};
use crate::telemetry::{metrics, trace_context};

/// Most commands in one batch.
pub const MAX_BATCH: usize = 500;

/// The function's routes.
pub fn router() -> Router<Arc<App>> {
    Router::new().route("/api/commands", post(post_one)).route("/api/commands/batch", post(post_batch))
}

fn json_response(status: StatusCode, body: &impl Serialize, replayed: bool) -> Response {
    let mut response = (status, answer_json::text(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    if replayed {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// `POST /api/commands`.
#[utoipa::path(
    post,
    path = "/api/commands",
    tag = "commands",
    operation_id = "postCommand",
    summary = "Apply one command, exactly once per commandId",
    request_body(content = CommandBody, description = "At most 64 KiB."),
    responses(
        (status = 200, description = "Applied; or, for a commandId already applied with the same body, the original \
            answer with status `duplicate` and `Idempotent-Replayed: true`.", body = CommandResponse,
            headers(("Idempotent-Replayed" = String, description = "`true` when the answer is a replay"))),
        (status = 400, description = "Invalid body (every bad field listed); nothing changed.",
            content_type = "application/problem+json", body = ref("#/components/schemas/InvalidRequestProblem")),
        (status = 409, description = "Refused by the item's state, or the commandId was used for another body.",
            content_type = "application/problem+json", body = ref("#/components/schemas/CommandConflictProblem")),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn post_one(
    State(app): State<Arc<App>>,
    VerifiedCaller(caller): VerifiedCaller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let value = json_body(&headers, body, COMMAND_LIMIT).await?;
    let parsed = command_body::parse(&value, "").map_err(Problem::invalid)?;
    let reply = execute(&app, parsed, caller.as_ref()).await?;
    Ok(json_response(StatusCode::OK, &rendered(&reply), reply.replayed))
}

/// `POST /api/commands/batch`: each command on its own, answered in order.
#[utoipa::path(
    post,
    path = "/api/commands/batch",
    tag = "commands",
    operation_id = "postBatch",
    summary = "Apply 1 to 500 commands in order, each on its own",
    request_body(content = BatchBody, description = "At most 1 MiB."),
    responses(
        (status = 200, description = "One result per command, in order: its answer, or `rejected` with its problem.",
            body = BatchResponse),
        (status = 400, description = "The batch itself is malformed; nothing applied.",
            content_type = "application/problem+json", body = ref("#/components/schemas/InvalidRequestProblem")),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub async fn post_batch(
    State(app): State<Arc<App>>,
    VerifiedCaller(caller): VerifiedCaller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let value = json_body(&headers, body, BATCH_LIMIT).await?;
    let commands = batch_commands(&value)?;
    let mut results = Vec::with_capacity(commands.len());
    for (index, entry) in commands.iter().enumerate() {
        let outcome = match command_body::parse(entry, &format!("commands[{index}].")) {
            Err(errors) => Err(Problem::invalid(errors)),
            Ok(parsed) => execute(&app, parsed, caller.as_ref()).await,
        };
        results.push(match outcome {
            Ok(reply) => BatchResult::Answered(Box::new(rendered(&reply))),
            Err(problem) => BatchResult::Rejected(RejectedCommand::new(
                command_body::command_id_of(entry).map(|id| id.to_string()),
                problem.body(),
            )),
        });
    }
    Ok(json_response(StatusCode::OK, &BatchResponse { results }, false))
}

fn rendered(reply: &Reply) -> CommandResponse {
    views::command_response(&reply.answer, reply.replayed)
}

/// Executes one command in a span of its own (in the request's trace, which its events then carry) under the
/// caller the transport verified (not part of the request hash: a retry under another key replays the first
/// answer, and the events keep the first caller), and counts it by what it did.
async fn execute(app: &App, mut parsed: ParsedCommand, caller: Option<&Caller>) -> Result<Reply, Problem> {
    let span = tracing::info_span!("command", command_id = %parsed.id, trace_id = tracing::field::Empty);
    trace_context::adopt(&span, None);
    parsed.trace = trace_context::traceparent(&span);
    parsed.caller = caller.cloned();
    let started = Instant::now();
    let result = app.commands.execute(&parsed).instrument(span.clone()).await.map_err(|e| Problem::from(&e));
    let outcome = match &result {
        Ok(Reply { replayed: true, .. }) => "duplicate",
        Ok(Reply { answer, .. }) => answer.outcome.as_str(),
        Err(problem) => problem.slug,
    };
    span.in_scope(|| tracing::debug!(outcome, "command answered"));
    metrics::command_answered(outcome, started.elapsed().as_secs_f64() * 1000.0);
    result
}

/// The batch's `commands` array, or the 400 that rejects the whole batch.
fn batch_commands(value: &Value) -> Result<&Vec<Value>, Problem> {
    let object = value.as_object().ok_or_else(|| Problem::invalid_field("$", "must be an object with 'commands'"))?;
    if let Some(unknown) = object.keys().find(|k| k.as_str() != "commands") {
        return Err(Problem::invalid_field(unknown, "is not a field of a batch"));
    }
    let commands = object
        .get("commands")
        .and_then(Value::as_array)
        .ok_or_else(|| Problem::invalid_field("commands", "must be an array of commands"))?;
    if commands.is_empty() || commands.len() > MAX_BATCH {
        return Err(Problem::invalid_field("commands", "must hold 1 to 500 commands"));
    }
    Ok(commands)
}
