//! Bounded quantities: stock on hand (`Quantity`, 0..=1,000,000) and a movement (`Amount`, 1..=1,000,000).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The most of one sku one location may hold, and the most one command may move.
pub const MAX_QUANTITY: u32 = 1_000_000;

/// Why a quantity was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error("must be an integer from {min} to {max}")]
    OutOfRange { min: u32, max: u32 },
}

/// Stock on hand: an integer in `0..=1_000_000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Quantity(u32);

impl Quantity {
    pub const ZERO: Quantity = Quantity(0);

    pub fn new(value: u32) -> Result<Self, QuantityError> {
        if value <= MAX_QUANTITY {
            Ok(Self(value))
        } else {
            Err(QuantityError::OutOfRange { min: 0, max: MAX_QUANTITY })
        }
    }
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for Quantity {
    type Error = QuantityError;
    fn try_from(v: u32) -> Result<Self, QuantityError> {
        Self::new(v)
    }
}
impl From<Quantity> for u32 {
    fn from(q: Quantity) -> u32 {
        q.0
    }
}
impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// How much one command moves: an integer in `1..=1_000_000`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Amount(u32);

impl Amount {
    pub fn new(value: u32) -> Result<Self, QuantityError> {
        if (1..=MAX_QUANTITY).contains(&value) {
            Ok(Self(value))
        } else {
            Err(QuantityError::OutOfRange { min: 1, max: MAX_QUANTITY })
        }
    }
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for Amount {
    type Error = QuantityError;
    fn try_from(v: u32) -> Result<Self, QuantityError> {
        Self::new(v)
    }
}
impl From<Amount> for u32 {
    fn from(a: Amount) -> u32 {
        a.0
    }
}

/// Stock on hand as the write side knows it. A live command keeps it in `0..=1_000_000`; records of what already
/// happened are never refused, so they may take it below zero (the item then needs a count) or past the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Stock(pub i64);

impl Stock {
    pub const ZERO: Stock = Stock(0);

    pub fn get(self) -> i64 {
        self.0
    }

    /// Below zero: records took away more than the item was known to hold, so someone should count it.
    pub fn needs_count(self) -> bool {
        self.0 < 0
    }
}

impl From<Quantity> for Stock {
    fn from(q: Quantity) -> Stock {
        Stock(i64::from(q.0))
    }
}
impl fmt::Display for Stock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
