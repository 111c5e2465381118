//! The Azure Functions, one thin file each: parse the request, call the application, map the answer. The same
//! routes serve under the Functions host and standalone (`http::router`).

pub mod command;
pub mod dashboard;
pub mod projection;
pub mod query;
pub mod relay;
pub mod verify;

use std::sync::Arc;

use crate::application::commands::CommandService;
use crate::application::operator::Operator;
use crate::application::projection::Projection;
use crate::application::queries::QueryService;
use crate::application::relay::Relay;

/// What every function's route is given: the use cases, built by `wiring`.
pub struct App {
    pub commands: Arc<CommandService>,
    pub queries: QueryService,
    pub projection: Arc<Projection>,
    pub relay: Arc<Relay>,
    pub operator: Arc<Operator>,
    /// `embedded` or `azure`, as `/api/health` reports it.
    pub backend: &'static str,
}
