//! Answers several operations give alike, as OpenAPI response components (`#/components/responses/...`) that
//! their `#[utoipa::path]` annotations name with `response = ...` instead of restating them.

use utoipa::ToResponse;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{Ref, RefOr, Response};

/// A problem answer: its description and the component schema of its kind.
fn problem(description: &str, schema: &str) -> RefOr<Response> {
    let content = ContentBuilder::new().schema(Some(Ref::from_schema_name(schema))).build();
    ResponseBuilder::new().description(description).content("application/problem+json", content).build().into()
}

/// 304 from a query: the client's copy is current.
pub struct NotModified;

impl<'s> ToResponse<'s> for NotModified {
    fn response() -> (&'s str, RefOr<Response>) {
        let etag = HeaderBuilder::new().schema(ObjectBuilder::new().schema_type(Type::String)).build();
        let response = ResponseBuilder::new()
            .description(
                "The answer's ETag is in `If-None-Match` (or, with `waitForChange`, the timeout passed unchanged): \
                 no body.",
            )
            .header("ETag", etag)
            .build();
        ("NotModified", response.into())
    }
}

/// 400 from a query: its parameters are wrong.
pub struct InvalidParameters;

impl<'s> ToResponse<'s> for InvalidParameters {
    fn response() -> (&'s str, RefOr<Response>) {
        ("InvalidParameters", problem("A parameter is invalid; every bad one is listed.", "InvalidRequestProblem"))
    }
}

/// 413: the body is over the operation's limit.
pub struct PayloadTooLarge;

impl<'s> ToResponse<'s> for PayloadTooLarge {
    fn response() -> (&'s str, RefOr<Response>) {
        let description = "Body over the operation's limit (its request body says which; `limit` in bytes).";
        ("PayloadTooLarge", problem(description, "PayloadTooLargeProblem"))
    }
}

/// 415: the body is not JSON.
pub struct UnsupportedMediaType;

impl<'s> ToResponse<'s> for UnsupportedMediaType {
    fn response() -> (&'s str, RefOr<Response>) {
        ("UnsupportedMediaType", problem("Body not sent as `application/json`.", "UnsupportedMediaTypeProblem"))
    }
}
