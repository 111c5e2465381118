//! Scenario 4, idempotent and order-safe projection: the projection fails 40% of its read-model writes while
//! every event is also delivered again, in both schemas, shuffled, through the `projection` route. (Deliveries
//! that arrive together share one write, `application/group_apply.rs`, so a failed write fails all of them.)

use futures::future::join_all;
use rand::Rng;
use rand::seq::SliceRandom;
use serde_json::Value;

use crate::harness::{self, Backend, Scenario};
use crate::ledger::{self, Ledger};
use crate::seed;

const SCENARIO: Scenario = Scenario { name: "projection_faults", default_seed: 4_004 };
/// Deliveries in flight at once, as Event Grid delivers concurrently.
const CONCURRENT_DELIVERIES: usize = 8;

/// With 40% of the projection's writes failing (half after applying), commands are answered and relay
/// passes run now and then; every committed event is then delivered twice more (CloudEvents and Event Grid
/// schema), shuffled, through the host envelope, each failed invocation retried as Event Grid does: the read
/// model ends equal to the write model and to the computed stock. When the projection recovers, the relay
/// empties the outbox and nothing changes.
async fn duplicated_reordered_deliveries_to_a_failing_projection_converge(backend: Backend) {
    let Some(app) = harness::start(backend, &SCENARIO).await else { return };
    let mut rng = seed::rng(app.seed, 1);
    let mut ledger = Ledger::default();

    app.projection_faults.set(40);
    let planned = ledger::mixed_commands(&mut rng, backend.scaled(150, 30), &mut ledger);
    for wave in ledger::waves(&planned) {
        app.send_wave(&planned, &wave, &vec![1; wave.len()]).await;
        if rng.random_ratio(1, 4) {
            app.relay().await;
        }
    }

    let events = app.adapters.write_store.events().await.unwrap();
    let mut deliveries: Vec<Value> = events
        .iter()
        .flat_map(|e| {
            [pieshop::contract::event_json::to_cloud_event(e), pieshop::contract::event_json::to_event_grid(e)]
        })
        .collect();
    deliveries.shuffle(&mut rng);
    let mut failed_invocations = 0;
    for chunk in deliveries.chunks(CONCURRENT_DELIVERIES) {
        failed_invocations += join_all(chunk.iter().map(|event| app.deliver(event))).await.into_iter().sum::<usize>();
    }
    println!(
        "{} events delivered twice more; {failed_invocations} invocations failed and were retried; {} injected apply failures",
        events.len(),
        app.projection_faults.failures()
    );
    assert!(failed_invocations > 0, "the seed made some deliveries fail");
    app.assert_converged(&ledger).await;

    app.projection_faults.set(0);
    let passes = app.drain_outbox().await;
    println!("projection recovered: outbox drained in {passes} relay passes");
    app.assert_converged(&ledger).await;
}

crate::on_every_backend!(
    a_failing_projection_fed_duplicates_out_of_order_converges,
    super::duplicated_reordered_deliveries_to_a_failing_projection_converge
);
