//! HTTP plumbing below every function: problem+json errors, ETags and conditional requests, JSON bodies, function
//! keys and the request log. The router and the OpenAPI document sit above the functions, in `api`.

pub mod auth;
pub mod body;
pub mod etag;
pub mod problem;
pub mod request_log;
pub mod responses;

pub use problem::Problem;
