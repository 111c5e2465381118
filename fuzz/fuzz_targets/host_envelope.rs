//! Any body the Functions host (or anyone reaching `/projection`) can POST: parsing the `{Data, Metadata}`
//! envelope, taking the Event Grid trigger's values and decoding each, and taking an HTTP function's request
//! (with its caller) out of it, never panics.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pieshop::contract::event_json::decode;
use pieshop::host::envelope::Invocation;
use pieshop::host::http_envelope;

fuzz_target!(|bytes: &[u8]| {
    let Ok(invocation) = Invocation::parse(bytes) else {
        return;
    };
    let _ = http_envelope::request(&invocation);
    for value in invocation.trigger_values("eventGridEvent") {
        let _ = decode(&value);
    }
});
