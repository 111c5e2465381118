//! Any JSON the projection can be handed as an event: `event_json::decode` never panics, and every event it
//! decodes survives a round trip through both schemas (CloudEvents and Event Grid), as objects and as the
//! string-of-a-string the Functions host delivers.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pieshop::contract::event_json::{decode, to_cloud_event, to_event_grid};
use serde_json::Value;

fuzz_target!(|bytes: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(bytes) else {
        return;
    };
    let Ok(event) = decode(&value) else {
        return;
    };
    for encoded in [to_cloud_event(&event), to_event_grid(&event)] {
        let back = decode(&encoded).unwrap_or_else(|e| panic!("re-encoded event does not decode ({e}): {encoded}"));
        assert_eq!(back, event, "round trip changed the event: {encoded}");
        let as_host_sends = Value::String(Value::String(encoded.to_string()).to_string());
        assert_eq!(decode(&as_host_sends).as_ref(), Ok(&event), "string-of-a-string form differs");
    }
});
