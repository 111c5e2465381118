//! Seeds: a fixed default per scenario, overridable by `PIESHOP_FAULT_SEED`, printed so a failure can be replayed.

use rand::SeedableRng;
use rand::rngs::StdRng;

/// The scenario's seed (printed): `PIESHOP_FAULT_SEED` when set, `default` otherwise.
pub fn scenario_seed(scenario: &str, backend: &str, default: u64) -> u64 {
    let seed = match std::env::var("PIESHOP_FAULT_SEED") {
        Ok(text) => {
            text.trim().parse().unwrap_or_else(|_| panic!("PIESHOP_FAULT_SEED must be an integer, not {text:?}"))
        }
        Err(_) => default,
    };
    println!(
        "scenario {scenario} on {backend}: seed {seed} (replay: PIESHOP_FAULT_SEED={seed} cargo test --test faults {scenario})"
    );
    seed
}

/// An independent stream of choices for one purpose (`salt`) under the scenario's seed, so that adding a
/// choice in one place does not shift every other one.
pub fn rng(seed: u64, salt: u64) -> StdRng {
    StdRng::seed_from_u64(seed ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}
