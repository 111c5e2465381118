//! Scenario 3, no lost event: the publisher fails 30% of its calls, then is down altogether for a while;
//! relay passes (`POST /relay`, as the timer runs them) catch up.

use rand::Rng;

use crate::harness::{self, Backend, Scenario};
use crate::ledger::{self, Expect, Ledger, Planned};
use crate::seed;

const SCENARIO: Scenario = Scenario { name: "publisher_outage", default_seed: 3_003 };

/// Events the write side commits for these commands (a transfer: both halves; a refusal: none).
fn events_of(planned: &[Planned]) -> usize {
    planned.iter().filter(|p| matches!(p.expect, Expect::Applied { .. })).map(|p| p.cmd.events()).sum()
}

/// While 30% of publish calls fail (half of them after delivering, as a lost acknowledgement), commands are
/// answered and relay passes run now and then; then, with the publisher down, nothing reaches the read model
/// and every event of the outage waits in the outbox; once it is back, relay passes publish them all, and
/// the read model equals the write model and the stock computed from the commands.
async fn events_committed_while_publishing_fails_all_reach_the_read_model(backend: Backend) {
    let Some(app) = harness::start(backend, &SCENARIO).await else { return };
    let mut rng = seed::rng(app.seed, 1);
    let mut ledger = Ledger::default();

    app.publisher_faults.set(30);
    // Commands in rounds until the dial has failed a few publish calls (how many calls there are depends on
    // how the dispatcher batches events, so on timing): the scenario never passes without its fault.
    let mut timer_passes = 0;
    for round in 1.. {
        let flaky = ledger::mixed_commands(&mut rng, backend.scaled(150, 25), &mut ledger);
        for wave in ledger::waves(&flaky) {
            app.send_wave(&flaky, &wave, &vec![1; wave.len()]).await;
            if rng.random_ratio(1, 4) {
                app.relay().await;
                timer_passes += 1;
            }
        }
        if app.publisher_faults.failures() >= 3 {
            break;
        }
        assert!(
            round < 20,
            "20 rounds of commands and the publisher failed only {} calls",
            app.publisher_faults.failures()
        );
    }
    let passes = app.drain_outbox().await;
    println!(
        "flaky publisher: {} failed publish calls, {timer_passes} timer passes, drained in {passes} more",
        app.publisher_faults.failures()
    );
    app.assert_converged(&ledger).await;

    app.publisher_faults.set(100);
    let before_outage = app.read_items().await;
    let outage = ledger::mixed_commands(&mut rng, backend.scaled(40, 8), &mut ledger);
    for wave in ledger::waves(&outage) {
        app.send_wave(&outage, &wave, &vec![1; wave.len()]).await;
    }
    let pass = app.relay().await;
    assert_eq!(
        (pass.republished, pass.failing),
        (0, events_of(&outage)),
        "every event of the outage waits in the outbox: {pass:?}"
    );
    assert_eq!(app.read_items().await, before_outage, "nothing reached the read model while the publisher was down");

    app.publisher_faults.set(30);
    let passes = app.drain_outbox().await;
    println!(
        "after the outage: drained in {passes} relay passes; {} failed publish calls in all",
        app.publisher_faults.failures()
    );
    app.assert_converged(&ledger).await;
}

crate::on_every_backend!(
    events_survive_a_failing_then_absent_publisher,
    super::events_committed_while_publishing_fails_all_reach_the_read_model
);
