//! HTTP plumbing shared by every function: problem+json errors, ETags and conditional requests, JSON bodies,
//! the request log, the OpenAPI document, and the router that puts the functions at their paths.

pub mod auth;
pub mod body;
pub mod etag;
pub mod openapi;
pub mod problem;
pub mod request_log;
pub mod responses;
pub mod router;

pub use problem::Problem;
