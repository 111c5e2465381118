//! What a client sends a listing and what an export writes: a `cursor` for `/api/activity` never panics the
//! decoder and reads the same every time, an `Accept` header always picks a format, and any text a product is
//! named reads back from the summary's CSV as written (a spreadsheet formula guarded with a leading `'`),
//! whatever commas, quotes and line ends it holds.
//!
//! Input: the cursor, the `Accept` value and the name, separated by NUL bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pieshop::application::queries::decode_activity_cursor;
use pieshop::contract::csv::{SUMMARY, header, summary_rows};
use pieshop::domain::Sku;
use pieshop::http::export::format;
use pieshop::ports::read_model::ProductTotal;

fuzz_target!(|bytes: &[u8]| {
    let mut parts = bytes.splitn(3, |b| *b == 0).map(String::from_utf8_lossy);
    let (cursor, accept, name) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default(), parts.next());

    let decoded = decode_activity_cursor(&cursor).ok();
    assert_eq!(decoded, decode_activity_cursor(&cursor).ok(), "a cursor reads differently twice");

    if let Ok(value) = http::HeaderValue::from_str(&accept) {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::ACCEPT, value);
        assert!(format(&headers, None).is_ok(), "an Accept header is never a 400");
    }

    let Some(name) = name else { return };
    let product = ProductTotal {
        sku: Sku::parse("apple-pie").expect("a valid sku"),
        name: name.to_string(),
        total: 0,
        by_location: Vec::new(),
        reorder_level: None,
        barcodes: Vec::new(),
    };
    let mut text = header(SUMMARY).expect("a header").to_vec();
    text.extend_from_slice(&summary_rows(&[product]).expect("rows"));
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_slice());
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("the CSV written reads back")).collect();
    assert_eq!(rows.len(), 1, "one product, one row: {text:?}");
    let guarded = name.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let expected = if guarded { format!("'{name}") } else { name.to_string() };
    assert_eq!(&rows[0][1], expected.as_str(), "the name read back differs");
});
