//! Scenario 2, no lost update: 16 writers racing on the same 3 items.

use std::collections::{BTreeMap, BTreeSet};

use futures::future::join_all;
use rand::Rng;

use crate::harness::{self, Backend, Scenario, first_item, status_of};
use crate::ledger::{Cmd, Ledger, command_id};
use crate::seed;

const SCENARIO: Scenario = Scenario { name: "contention", default_seed: 2_002 };
const WRITERS: usize = 16;
const LOCATIONS: [&str; 3] = ["store-1", "store-2", "van"];
const SKU: &str = "apple-pie";
/// Enough opening stock that no removal or transfer can be refused whatever order the races settle in,
/// so the final stock depends only on which commands were sent.
const OPENING: u32 = 10_000;

/// Every writer's commands: receives, removals and transfers among the three items, with its own seeded choices.
fn commands(rng: &mut rand::rngs::StdRng, n: usize) -> Vec<(String, Cmd)> {
    (0..n)
        .map(|_| {
            let location = LOCATIONS[rng.random_range(0..3)].to_owned();
            let quantity = rng.random_range(1..=20);
            let cmd = match rng.random_range(0..3) {
                0 => Cmd::Receive { location, sku: SKU.into(), quantity },
                1 => Cmd::Remove { location, sku: SKU.into(), quantity },
                _ => {
                    let to = LOCATIONS.iter().find(|l| **l != location).unwrap().to_string();
                    let to = if rng.random_bool(0.5) {
                        to
                    } else {
                        LOCATIONS.iter().rev().find(|l| **l != location).unwrap().to_string()
                    };
                    Cmd::Transfer { from: location, to, sku: SKU.into(), quantity }
                }
            };
            (command_id(rng), cmd)
        })
        .collect()
}

/// 16 concurrent writers, each sending its commands one after another, all on the same three items: every
/// commit lands at its own version of each stream (no two answers share one), and the stock is exactly the
/// opening stock plus what was received, minus what was removed, with transfers moving stock between them.
async fn racing_writers_each_commit_at_their_own_version(backend: Backend) {
    let Some(app) = harness::start(backend, &SCENARIO).await else { return };
    let mut ledger = Ledger::default();
    for location in LOCATIONS {
        let opening = Cmd::Receive { location: location.into(), sku: SKU.into(), quantity: OPENING };
        let answer = app.send(&opening.body(&uuid::Uuid::new_v4().to_string())).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        ledger.apply(&opening);
    }
    let per_writer = backend.scaled(10, 3);
    let plans: Vec<Vec<(String, Cmd)>> =
        (0..WRITERS).map(|w| commands(&mut seed::rng(app.seed, 100 + w as u64), per_writer)).collect();
    let writers = plans.iter().map(|plan| {
        let app = &app;
        async move {
            let mut versions = Vec::new();
            for (id, cmd) in plan {
                let answer = app.send(&cmd.body(id)).await;
                assert_eq!(answer.status, 200, "{cmd:?}: {answer:?}");
                assert!(["applied", "adjusted"].contains(&status_of(&answer)), "{cmd:?}: {answer:?}");
                versions.push((cmd.streams()[0].clone(), first_item(&answer).1));
                if answer.body["pending"] == false {
                    let destination = &answer.body["items"][1];
                    versions.push((cmd.streams()[1].clone(), destination["version"].as_u64().unwrap()));
                }
            }
            versions
        }
    });
    let versions: Vec<(String, u64)> = join_all(writers).await.into_iter().flatten().collect();
    for plan in &plans {
        for (_, cmd) in plan {
            ledger.apply(cmd);
        }
    }
    let distinct: BTreeSet<&(String, u64)> = versions.iter().collect();
    assert_eq!(
        distinct.len(),
        versions.len(),
        "two commits answered with the same version of one stream (seed {})",
        app.seed
    );
    let mut per_stream: BTreeMap<&str, u64> = BTreeMap::new();
    for (stream, _) in &versions {
        *per_stream.entry(stream).or_default() += 1;
    }
    println!(
        "{} commits on {:?}; {} answers were 503 and retried",
        versions.len(),
        per_stream,
        app.retried.load(std::sync::atomic::Ordering::Relaxed)
    );
    let passes = app.drain_outbox().await;
    println!("outbox drained in {passes} relay passes");
    app.assert_converged(&ledger).await;
}

crate::on_every_backend!(
    sixteen_writers_on_three_items_lose_no_update,
    super::racing_writers_each_commit_at_their_own_version
);
