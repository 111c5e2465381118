//! A seeded, dependency-free shuffle, for the tests that redeliver events out of order.

/// `items` in an order fixed by `seed` (Fisher–Yates over a 64-bit LCG: reproducible everywhere).
pub fn shuffled<T: Clone>(items: &[T], seed: u64) -> Vec<T> {
    let mut out = items.to_vec();
    let mut state = seed;
    for i in (1..out.len()).rev() {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        out.swap(i, (state >> 33) as usize % (i + 1));
    }
    out
}
