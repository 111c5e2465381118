//! The commands a scenario sends and the stock they must leave: a sequential model of the write side
//! (quantity and version per item) that the test computes from its own command list.

use std::collections::BTreeMap;

use rand::Rng;
use rand::rngs::StdRng;
use serde_json::{Value, json};

pub const LOCATIONS: [&str; 4] = ["store-1", "store-2", "back-room", "van"];
pub const SKUS: [&str; 3] = ["apple-pie", "pork-pie", "custard-tart"];

/// A stock command as the test means it (its wire body is made by `body`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cmd {
    Receive { location: String, sku: String, quantity: u32 },
    Remove { location: String, sku: String, quantity: u32 },
    Count { location: String, sku: String, quantity: u32 },
    Transfer { from: String, to: String, sku: String, quantity: u32 },
}

pub fn stream(location: &str, sku: &str) -> String {
    format!("{location}/{sku}")
}

impl Cmd {
    /// The JSON body of `POST /api/commands`.
    pub fn body(&self, id: &str) -> Value {
        match self {
            Cmd::Receive { location, sku, quantity } => {
                json!({"commandId": id, "type": "receive", "location": location, "sku": sku, "quantity": quantity})
            }
            Cmd::Remove { location, sku, quantity } => json!({"commandId": id, "type": "remove", "location": location,
                                                             "sku": sku, "quantity": quantity, "reason": "sold"}),
            Cmd::Count { location, sku, quantity } => {
                json!({"commandId": id, "type": "count", "location": location, "sku": sku, "quantity": quantity})
            }
            Cmd::Transfer { from, to, sku, quantity } => {
                json!({"commandId": id, "type": "transfer", "from": from, "to": to, "sku": sku, "quantity": quantity})
            }
        }
    }

    /// The streams it changes; the first is the one its answer describes first.
    pub fn streams(&self) -> Vec<String> {
        match self {
            Cmd::Receive { location, sku, .. }
            | Cmd::Remove { location, sku, .. }
            | Cmd::Count { location, sku, .. } => {
                vec![stream(location, sku)]
            }
            Cmd::Transfer { from, to, sku, .. } => vec![stream(from, sku), stream(to, sku)],
        }
    }

    /// Events it commits when applied (a transfer: its two halves).
    pub fn events(&self) -> usize {
        self.streams().len()
    }
}

/// What the model says a command does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Applied; its first stream is then at (quantity, version).
    Applied { quantity: u32, version: u64 },
    /// Refused as insufficient stock, with this much on hand.
    Refused { available: u32 },
}

/// Quantity and version per item stream, as the write side must end up.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    items: BTreeMap<String, (u32, u64)>,
}

impl Ledger {
    pub fn quantity(&self, stream: &str) -> u32 {
        self.items.get(stream).map_or(0, |(q, _)| *q)
    }

    fn set(&mut self, stream: String, quantity: u32) -> (u32, u64) {
        let entry = self.items.entry(stream).or_insert((0, 0));
        *entry = (quantity, entry.1 + 1);
        *entry
    }

    /// Applies a command to the model, in the order the write side applies it.
    pub fn apply(&mut self, cmd: &Cmd) -> Expect {
        let first = cmd.streams()[0].clone();
        let on_hand = self.quantity(&first);
        let (quantity, version) = match cmd {
            Cmd::Receive { quantity, .. } => self.set(first, on_hand + quantity),
            Cmd::Count { quantity, .. } => self.set(first, *quantity),
            Cmd::Remove { quantity, .. } | Cmd::Transfer { quantity, .. } if *quantity > on_hand => {
                return Expect::Refused { available: on_hand };
            }
            Cmd::Remove { quantity, .. } => self.set(first, on_hand - quantity),
            Cmd::Transfer { quantity, .. } => {
                let source = self.set(first, on_hand - quantity);
                let destination = cmd.streams()[1].clone();
                let there = self.quantity(&destination);
                self.set(destination, there + quantity);
                source
            }
        };
        Expect::Applied { quantity, version }
    }

    /// Every item as (stream, quantity, version), sorted like the tests' listings.
    pub fn items(&self) -> Vec<(String, i64, u64)> {
        self.items.iter().map(|(s, (q, v))| (s.clone(), i64::from(*q), *v)).collect()
    }

    /// Stock per sku across every location.
    pub fn totals(&self) -> BTreeMap<String, u64> {
        let mut totals = BTreeMap::new();
        for (stream, (quantity, _)) in &self.items {
            let sku = stream.split_once('/').map_or("", |(_, sku)| sku).to_owned();
            *totals.entry(sku).or_insert(0) += u64::from(*quantity);
        }
        totals
    }
}

/// A command with its id and what the model expects of it.
#[derive(Debug, Clone)]
pub struct Planned {
    pub id: String,
    pub cmd: Cmd,
    pub expect: Expect,
}

/// A command id drawn from the seed, so a replay sends the very same ids.
pub fn command_id(rng: &mut StdRng) -> String {
    uuid::Builder::from_random_bytes(rng.random()).into_uuid().to_string()
}

fn pick<'a>(rng: &mut StdRng, from: &[&'a str]) -> &'a str {
    from[rng.random_range(0..from.len())]
}

/// `n` commands over every item: receives, removals within stock (and about one in eight beyond it, which
/// must be refused), counts and transfers, each applied to `ledger` in list order.
pub fn mixed_commands(rng: &mut StdRng, n: usize, ledger: &mut Ledger) -> Vec<Planned> {
    let mut planned = Vec::with_capacity(n);
    while planned.len() < n {
        let (location, sku) = (pick(rng, &LOCATIONS).to_owned(), pick(rng, &SKUS).to_owned());
        let on_hand = ledger.quantity(&stream(&location, &sku));
        let roll = rng.random_range(0..100);
        let cmd = match roll {
            _ if on_hand == 0 || roll < 35 => Cmd::Receive { location, sku, quantity: rng.random_range(1..=50) },
            35..=44 if rng.random_ratio(1, 3) => {
                Cmd::Remove { location, sku, quantity: on_hand + rng.random_range(1..=5) }
            }
            35..=59 => Cmd::Remove { location, sku, quantity: rng.random_range(1..=on_hand) },
            60..=74 => Cmd::Count { location, sku, quantity: rng.random_range(0..=on_hand + 20) },
            _ => {
                let to = LOCATIONS.iter().copied().filter(|l| *l != location).collect::<Vec<_>>();
                let to = pick(rng, &to).to_owned();
                Cmd::Transfer { from: location, to, sku, quantity: rng.random_range(1..=on_hand) }
            }
        };
        let expect = ledger.apply(&cmd);
        planned.push(Planned { id: command_id(rng), cmd, expect });
    }
    planned
}

/// Groups commands into waves that touch disjoint items, keeping each item's commands in list order: the
/// commands of one wave may run concurrently and still leave exactly what the sequential model computed.
pub fn waves(planned: &[Planned]) -> Vec<Vec<usize>> {
    let mut last_wave: BTreeMap<String, usize> = BTreeMap::new();
    let mut waves: Vec<Vec<usize>> = Vec::new();
    for (index, p) in planned.iter().enumerate() {
        let streams = p.cmd.streams();
        let wave = streams.iter().filter_map(|s| last_wave.get(s)).map(|w| w + 1).max().unwrap_or(0);
        for s in streams {
            last_wave.insert(s, wave);
        }
        if waves.len() <= wave {
            waves.resize_with(wave + 1, Vec::new);
        }
        waves[wave].push(index);
    }
    waves
}
