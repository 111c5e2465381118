//! The Azure Functions, one thin file each: parse the request, call the application, map the answer. The same
//! routes serve under the Functions host and standalone (`http::router`).

pub mod command;
pub mod dashboard;
pub mod negotiate;
pub mod projection;
pub mod query;
pub mod relay;
pub mod verify;

use std::sync::Arc;

use crate::adapters::signalr_hub::Hub;
use crate::application::commands::CommandService;
use crate::application::operator::Operator;
use crate::application::projection::Projection;
use crate::application::queries::QueryService;
use crate::application::relay::Relay;
use crate::ports::push::Negotiator;

/// What every function's route is given: the use cases, built by `wiring`.
pub struct App {
    pub commands: Arc<CommandService>,
    pub queries: QueryService,
    pub projection: Arc<Projection>,
    pub relay: Arc<Relay>,
    pub operator: Arc<Operator>,
    /// `embedded` or `azure`, as `/api/health` reports it.
    pub backend: &'static str,
    /// Answers `negotiate`: this process's hub, or Azure SignalR Service.
    pub negotiator: Arc<dyn Negotiator>,
    /// This process's own hub, whose transports the router serves (none when Azure SignalR Service is the hub).
    pub hub: Option<Arc<Hub>>,
}
