//! The Functions host's protocol fixtures (`handlers/tests/fixtures/host`, copied from the protocol notes): the
//! envelopes the host sends and expects back, as data every test tree reads.

use std::path::PathBuf;

use serde_json::Value;

/// The fixture `name` of the host protocol, parsed.
pub fn host(name: &str) -> Value {
    let path: PathBuf =
        [env!("CARGO_MANIFEST_DIR"), "..", "..", "handlers", "tests", "fixtures", "host", name].iter().collect();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {name} is not JSON: {e}"))
}
