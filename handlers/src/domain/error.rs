//! Why the domain refuses a command. Each refusal changes nothing.

use super::{Quantity, Version};

/// A command that is well formed but not allowed against the current state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// A removal or transfer asks for more than is on hand.
    #[error("only {available} on hand, {requested} requested")]
    InsufficientStock { available: Quantity, requested: u32 },
    /// The client stated the version it expected, and the stream has moved on.
    #[error("expected version {expected}, the current version is {actual}")]
    VersionConflict { expected: Version, actual: Version },
    /// The result would exceed the most a location may hold.
    #[error("{on_hand} on hand plus {adding} would exceed the limit of {limit}")]
    QuantityLimit { on_hand: Quantity, adding: u32, limit: u32 },
    /// A transfer names the same location twice.
    #[error("a transfer needs two different locations")]
    SameLocation,
}
