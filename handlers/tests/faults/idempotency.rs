//! Scenario 1, exactly-once effect: every command sent one to three times at once, from concurrent tasks.

use rand::Rng;

use crate::harness::{self, Backend, Scenario};
use crate::ledger::{self, Ledger};
use crate::seed;

const SCENARIO: Scenario = Scenario { name: "idempotency", default_seed: 1_001 };

/// Receives, removals (some beyond the stock), counts and transfers, in waves of commands on disjoint items
/// sent concurrently, each command one to three times at once: each applies exactly once (one `applied`
/// answer, the other copies replays of it), a refused one is refused every time, and the stock is exactly
/// what the command list computes.
async fn every_copy_of_a_command_after_the_first_is_a_replay(backend: Backend) {
    let Some(app) = harness::start(backend, &SCENARIO).await else { return };
    let mut rng = seed::rng(app.seed, 1);
    let mut ledger = Ledger::default();
    let planned = ledger::mixed_commands(&mut rng, backend.scaled(300, 40), &mut ledger);
    let waves = ledger::waves(&planned);
    let mut sent = 0;
    for wave in &waves {
        let copies: Vec<usize> = wave.iter().map(|_| rng.random_range(1..=3)).collect();
        sent += copies.iter().sum::<usize>();
        app.send_wave(&planned, wave, &copies).await;
    }
    let refused = planned.iter().filter(|p| matches!(p.expect, ledger::Expect::Refused { .. })).count();
    println!("{} commands ({refused} refused) sent {sent} times in {} waves", planned.len(), waves.len());
    assert!(refused > 0 && sent > planned.len(), "the seed exercises refusals and duplicates");
    let passes = app.drain_outbox().await;
    println!(
        "outbox drained in {passes} relay passes; {} answers were 503 and retried",
        app.retried.load(std::sync::atomic::Ordering::Relaxed)
    );
    app.assert_converged(&ledger).await;
}

crate::on_every_backend!(
    every_command_sent_up_to_three_times_at_once_takes_effect_once,
    super::every_copy_of_a_command_after_the_first_is_a_replay
);
