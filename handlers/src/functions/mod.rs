//! The Azure Functions, one thin file each: parse the request, call the application, map the answer. Each owns
//! its routes (`router()`); `api::router` puts them together, and the same routes serve under the Functions host
//! and standalone.

pub mod command;
pub mod dashboard;
pub mod health;
pub mod negotiate;
pub mod projection;
pub mod query;
pub mod relay;
pub mod verify;

use std::sync::Arc;

use axum::Router;

use crate::application::commands::CommandService;
use crate::application::operator::Operator;
use crate::application::projection::Projection;
use crate::application::queries::QueryService;
use crate::application::relay::Relay;
use crate::ports::push::{Negotiator, Sessions};

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
    /// This process's own hub (none when Azure SignalR Service is the hub).
    pub hub: Option<OwnHub>,
}

/// This process as the hub, handed in by `wiring`: its sessions, which health counts, and its transports' routes,
/// which `api::router` serves beside the functions'.
pub struct OwnHub {
    pub sessions: Arc<dyn Sessions>,
    pub routes: Router,
}
