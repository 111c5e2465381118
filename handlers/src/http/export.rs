//! CSV exports over HTTP: whether a request asks for one (`format=csv`, or `Accept` preferring `text/csv`), and the
//! streamed attachment that answers it.
//!
//! An export has no `ETag` and is never a 304: its text is written while it is read, so no tag of it exists before
//! the last byte (`Cache-Control: no-store`; `If-None-Match` and `waitForChange` are not used). A failure after the
//! first byte cannot become a problem answer: the body is cut short (HTTP/1.1: the connection closes without the
//! final chunk, so the client sees an incomplete transfer, `curl` exits 18) and the handler logs it.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::Problem;
use crate::application::export::Chunks;

/// What a listing answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

/// The format asked for: `format` (`json` or `csv`) if given, else what `Accept` prefers. `Accept` is read by
/// hand because only two types are ever in question (the `headers` crate has no typed `Accept`): for each, the
/// quality of the most specific range that names it (RFC 9110 §12.5.1); CSV only when it is preferred, so `*/*`,
/// a browser's `Accept` and no `Accept` at all get JSON.
pub fn format(headers: &HeaderMap, format: Option<&str>) -> Result<Format, Problem> {
    match format {
        Some("csv") => return Ok(Format::Csv),
        Some("json") => return Ok(Format::Json),
        Some(_) => return Err(Problem::invalid_field("format", "must be json or csv")),
        None => {}
    }
    let ranges: Vec<(String, f32)> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|list| list.split(','))
        .map(media_range)
        .collect();
    let preference = |kind: &str| {
        let (family, _) = kind.split_once('/').unwrap_or((kind, ""));
        let family_any = format!("{family}/*");
        [(kind, 3), (family_any.as_str(), 2), ("*/*", 1)]
            .into_iter()
            .find_map(|(name, specificity)| ranges.iter().find(|(r, _)| r == name).map(|(_, q)| (*q, specificity)))
            .unwrap_or((0.0, 0))
    };
    let (csv, json) = (preference("text/csv"), preference("application/json"));
    Ok(if csv.0 > 0.0 && csv > json { Format::Csv } else { Format::Json })
}

/// `text/csv;q=0.5` → (`text/csv`, 0.5); a missing or unreadable `q` is 1.
fn media_range(range: &str) -> (String, f32) {
    let mut parts = range.split(';').map(str::trim);
    let name = parts.next().unwrap_or_default().to_ascii_lowercase();
    let q = parts
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
        .and_then(|(_, v)| v.trim().parse::<f32>().ok())
        .unwrap_or(1.0);
    (name, q)
}

/// A `200 text/csv` attachment named `filename`, its body the chunks as they come.
pub fn attachment(filename: &'static str, chunks: Chunks) -> Response {
    let body = chunks.map(move |chunk| {
        chunk.map_err(|error| {
            tracing::warn!(error = %error, export = filename, "CSV export cut short: the client gets an incomplete body");
            std::io::Error::other(error)
        })
    });
    let mut response = (StatusCode::OK, Body::from_stream(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::VARY, HeaderValue::from_static("Accept"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepting(accept: &str) -> Format {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(accept).unwrap());
        format(&headers, None).unwrap()
    }

    #[test]
    fn csv_only_when_it_is_preferred() {
        assert_eq!(accepting("text/csv"), Format::Csv);
        assert_eq!(accepting("text/csv, */*;q=0.8"), Format::Csv);
        assert_eq!(accepting("text/csv, */*"), Format::Csv, "named beats a wildcard of the same quality");
        assert_eq!(accepting("TEXT/CSV; charset=utf-8"), Format::Csv);
        assert_eq!(accepting("text/*"), Format::Csv);
        assert_eq!(accepting("*/*"), Format::Json);
        assert_eq!(accepting("application/json, text/csv"), Format::Json, "a tie is JSON");
        assert_eq!(accepting("text/csv;q=0.5, application/json"), Format::Json);
        assert_eq!(accepting("text/csv;q=0"), Format::Json, "q=0 means not acceptable");
        assert_eq!(accepting("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"), Format::Json);
        assert_eq!(format(&HeaderMap::new(), None).unwrap(), Format::Json);
    }

    #[test]
    fn the_format_parameter_wins_and_only_json_or_csv_is_one() {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert_eq!(format(&headers, Some("csv")).unwrap(), Format::Csv);
        headers.insert(header::ACCEPT, HeaderValue::from_static("text/csv"));
        assert_eq!(format(&headers, Some("json")).unwrap(), Format::Json);
        assert!(format(&headers, Some("xlsx")).is_err());
    }
}
