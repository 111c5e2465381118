//! HTTP plumbing below every function: problem+json errors, ETags and conditional requests, JSON bodies, CSV
//! exports (`export`), function keys and the caller they vouch for, the request log, and serving the host's readiness
//! probe while the app is wired. The router and the OpenAPI document sit above the functions, in `api`.

pub mod auth;
pub mod body;
pub mod caller;
pub mod etag;
pub mod export;
pub mod problem;
pub mod readiness;
pub mod request_log;
pub mod responses;

pub use problem::Problem;
