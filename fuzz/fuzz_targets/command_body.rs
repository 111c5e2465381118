//! Any JSON a scanner can send as a command: `command_body::parse` never panics, and what it accepts it
//! accepts again identically (same command, same request hash), also after the body is re-serialized
//! compactly or pretty-printed, and inside a batch (a `path` prefix changes nothing but error field names); one
//! sent with a barcode instead of its sku is a command once given any sku.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pieshop::contract::command_body::parse;
use serde_json::Value;

fuzz_target!(|bytes: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(bytes) else {
        return;
    };
    let first = parse(&value, "");
    let in_batch = parse(&value, "commands[7].");
    let parsed = match first {
        Ok(parsed) => parsed,
        Err(errors) => {
            assert!(!errors.is_empty(), "refused without saying why");
            assert_eq!(Some(errors), parse(&value, "").err(), "refusal is not deterministic");
            assert!(in_batch.is_err(), "accepted in a batch but not alone");
            return;
        }
    };
    // A command sent with a barcode becomes a command of the sku the barcode names, whatever that sku is.
    let sku = pieshop::domain::Sku::parse("apple-pie").expect("a valid sku");
    let resolved = parsed.command(Some(&sku)).expect("an accepted command does not take the sku of its barcode");
    if parsed.barcode().is_some() {
        assert_eq!(resolved.action.stream().to_string().rsplit('/').next(), Some("apple-pie"));
    }
    let again = parse(&value, "").expect("accepted once, refused the second time");
    assert_eq!(parsed.target, again.target);
    assert_eq!(parsed.request_hash, again.request_hash);
    let in_batch = in_batch.expect("accepted alone but not in a batch");
    assert_eq!(parsed.target, in_batch.target);
    assert_eq!(parsed.request_hash, in_batch.request_hash);
    for text in [serde_json::to_string(&value), serde_json::to_string_pretty(&value)] {
        let text = text.expect("a parsed value serializes");
        let reread: Value = serde_json::from_str(&text).expect("serde_json reads what it wrote");
        let resent = parse(&reread, "").expect("the same body re-serialized is refused");
        assert_eq!(parsed.target, resent.target, "re-serialized body is another command");
        assert_eq!(parsed.request_hash, resent.request_hash, "re-serialized body hashes differently: {text}");
    }
});
