//! Invoking a non-HTTP function the way the host does: `POST http://127.0.0.1:<port>/<FunctionName>` with the
//! `{Data, Metadata}` envelope, answered by a 2xx JSON object `{Outputs, Logs, ReturnValue}`; anything else
//! fails the invocation. Sources (`docs/protocol/functions-custom-handler.md`): §2 for the request, headers,
//! value encoding and response rules; §4 for Event Grid (the event as indented JSON, encoded as a string twice;
//! Metadata with `data`, `sys` and every other top-level property encoded twice, dates in invariant culture);
//! §7 for the timer's `TimerInfo`. The shapes match `handlers/tests/fixtures/host/` `c-…`, `b-…` and `d-…`.

use std::time::Duration;

use serde_json::{Map, Value, json};

/// The host version funchost announces (`X-Azure-Functions-HostVersion`).
pub const HOST_VERSION: &str = "4.1037.0";

/// Why an invocation failed (Event Grid then retries; a timer just logs it).
#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    #[error("handler unreachable: {0}")]
    Unreachable(String),
    #[error("handler answered {0}")]
    Status(u16),
    #[error("handler answered something other than a JSON object: {0}")]
    NotAnEnvelope(String),
    #[error("handler did not answer within {0:?}")]
    TimedOut(Duration),
}

/// `sys` as the host fills it.
fn sys(function: &str) -> Value {
    json!({"MethodName": function, "UtcNow": now_iso(), "RandGuid": uuid::Uuid::new_v4().to_string()})
}

fn now_iso() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// `JsonConvert.SerializeObject(value)` of a scalar: the JSON text, as a string.
fn encoded(value: &Value) -> Value {
    Value::String(value.to_string())
}

/// A date as .NET's invariant culture prints it (`01/15/2025 10:30:00`): lossy, as the host's Metadata is.
fn invariant_date(text: &str) -> Option<String> {
    let parsed = chrono::DateTime::parse_from_rfc3339(text).ok()?;
    Some(parsed.with_timezone(&chrono::Utc).format("%m/%d/%Y %H:%M:%S").to_string())
}

/// The event's JSON text indented as Newtonsoft's `Formatting.Indented` writes it: two spaces, members in the
/// order they were published (transcoded token by token, so nothing is reordered).
fn indented(raw: &str) -> String {
    let mut out = Vec::with_capacity(raw.len() * 2);
    let mut reader = serde_json::Deserializer::from_str(raw);
    let mut writer = serde_json::Serializer::pretty(&mut out);
    match serde_transcode::transcode(&mut reader, &mut writer) {
        Ok(()) => String::from_utf8(out).unwrap_or_default(),
        Err(_) => raw.to_owned(),
    }
}

/// The envelope for one Event Grid event (`event`, and `raw`: its JSON text as published) delivered to an
/// `eventGridTrigger` named `binding`.
pub fn event_grid_envelope(function: &str, binding: &str, event: &Value, raw: &str) -> Value {
    let indented = indented(raw);
    let twice = serde_json::to_string(&indented).unwrap_or_default();
    let mut metadata = Map::new();
    if let Some(data) = event.get("data").filter(|d| d.is_object()) {
        metadata.insert("data".into(), data.clone());
    }
    metadata.insert("sys".into(), sys(function));
    for (key, value) in event.as_object().into_iter().flatten() {
        if key == "data" || value.is_array() || value.is_object() {
            continue;
        }
        let date = matches!(key.as_str(), "time" | "eventTime").then(|| value.as_str().and_then(invariant_date));
        let value = match date.flatten() {
            Some(date) => Value::String(date),
            None => value.clone(),
        };
        metadata.insert(key.clone(), encoded(&value));
    }
    json!({"Data": {binding: twice}, "Metadata": metadata})
}

/// The envelope for a whole delivery (`events`, each with its JSON text as published) to an `eventGridTrigger`
/// with `cardinality: many` (`docs/protocol/eventgrid-batches.md` §2-§4): the extension converts the batch to
/// `string[]` (each event as indented JSON), and the host, failing to make a `JObject` of an array, sends
/// `JsonConvert.SerializeObject` of it: the binding's value is a string holding a JSON array of strings. The
/// only binding data of a batch is `data`, the events' `data` as an array, likewise a string; then `sys`.
pub fn event_grid_batch_envelope(function: &str, binding: &str, events: &[(&Value, &str)]) -> Value {
    let texts: Vec<String> = events.iter().map(|(_, raw)| indented(raw)).collect();
    let array = serde_json::to_string(&texts).unwrap_or_default();
    let data: Vec<&Value> = events.iter().map(|(event, _)| event.get("data").unwrap_or(&Value::Null)).collect();
    let data = serde_json::to_string(&data).unwrap_or_default();
    json!({"Data": {binding: array}, "Metadata": {"data": data, "sys": sys(function)}})
}

/// The envelope for a timer tick (`TimerInfo`, PascalCase).
pub fn timer_envelope(function: &str, binding: &str, last: Option<&str>, next: &str, past_due: bool) -> Value {
    let status = json!({"Last": last.unwrap_or("0001-01-01T00:00:00"), "Next": next, "LastUpdated": now_iso()});
    json!({
        "Data": {binding: {"Schedule": {"AdjustForDST": true}, "ScheduleStatus": status, "IsPastDue": past_due}},
        "Metadata": {"sys": sys(function)},
    })
}

/// Posts an envelope to `/<function>` on the instance at `port`; `Ok` carries the `Logs` it returned.
pub async fn invoke(
    client: &reqwest::Client,
    port: u16,
    function: &str,
    envelope: &Value,
    timeout: Duration,
) -> Result<Vec<String>, InvocationError> {
    let request = client
        .post(format!("http://127.0.0.1:{port}/{function}"))
        .header("x-azure-functions-hostversion", HOST_VERSION)
        .header("x-azure-functions-invocationid", uuid::Uuid::new_v4().to_string())
        .header("user-agent", format!("Azure-Functions-Host/{HOST_VERSION}"))
        .header("content-type", "application/json; charset=utf-8")
        .body(envelope.to_string());
    let response = match tokio::time::timeout(timeout, request.send()).await {
        Err(_) => return Err(InvocationError::TimedOut(timeout)),
        Ok(Err(error)) => return Err(InvocationError::Unreachable(error.without_url().to_string())),
        Ok(Ok(response)) => response,
    };
    let status = response.status();
    if !status.is_success() {
        return Err(InvocationError::Status(status.as_u16()));
    }
    let json = response.headers().get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("json"));
    let body = match tokio::time::timeout(timeout, response.bytes()).await {
        Ok(Ok(body)) => body,
        Ok(Err(error)) => return Err(InvocationError::Unreachable(error.without_url().to_string())),
        Err(_) => return Err(InvocationError::TimedOut(timeout)),
    };
    match serde_json::from_slice::<Value>(&body) {
        // An empty or null answer would leave the host's invocation hanging: a failure here.
        Ok(Value::Object(result)) if json => {
            let logs = result.get("Logs").and_then(Value::as_array).into_iter().flatten();
            Ok(logs.filter_map(Value::as_str).map(str::to_owned).collect())
        }
        _ => Err(InvocationError::NotAnEnvelope(String::from_utf8_lossy(&body).chars().take(200).collect())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    /// The envelope has exactly the shape of the protocol fixture for a CloudEvent (all but `sys`'s values).
    #[test]
    fn an_event_grid_envelope_matches_the_fixture() {
        let expected = fixture("c-eventgrid-cloudevent-request.json");
        let raw = crate::fixture_text("x-eventgrid-delivery-cloudevent.json");
        let event = fixture("x-eventgrid-delivery-cloudevent.json");
        let mut envelope = event_grid_envelope("projection", "eventGridEvent", &event, raw.trim());
        assert_eq!(envelope["Data"], expected["Data"]);
        envelope["Metadata"]["sys"] = expected["Metadata"]["sys"].clone();
        assert_eq!(envelope["Metadata"], expected["Metadata"]);
    }

    /// A batch: the binding's value is a string of a JSON array whose elements are strings of indented events, in
    /// delivery order, and each reads back as the event published.
    #[test]
    fn a_batch_envelope_is_a_string_of_an_array_of_strings_of_indented_events() {
        let raw = crate::fixture_text("x-eventgrid-delivery-cloudevent.json");
        let event = fixture("x-eventgrid-delivery-cloudevent.json");
        let mut second = event.clone();
        second["id"] = json!("second");
        let second_raw = second.to_string();
        let envelope = event_grid_batch_envelope("projection", "b", &[(&event, raw.trim()), (&second, &second_raw)]);
        let Value::String(text) = &envelope["Data"]["b"] else { panic!("a string: {envelope}") };
        let items: Vec<String> = serde_json::from_str(text).expect("an array of strings");
        assert_eq!(items.len(), 2);
        assert!(items[0].starts_with("{\n  \""), "indented as Formatting.Indented: {}", items[0]);
        assert_eq!(serde_json::from_str::<Value>(&items[0]).unwrap(), event);
        assert_eq!(serde_json::from_str::<Value>(&items[1]).unwrap(), second);
        let Value::String(data) = &envelope["Metadata"]["data"] else { panic!("data is a string: {envelope}") };
        let data: Value = serde_json::from_str(data).unwrap();
        assert_eq!(data, json!([event["data"], second["data"]]));
        assert_eq!(envelope["Metadata"]["sys"]["MethodName"], "projection");
    }

    #[test]
    fn a_timer_envelope_has_the_timer_info_shape() {
        let expected = fixture("d-timer-request.json");
        let envelope = timer_envelope("relay", "rebuildTimer", Some("x"), "y", false);
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&envelope["Data"]["rebuildTimer"]), keys(&expected["Data"]["rebuildTimer"]));
        assert_eq!(keys(&envelope["Metadata"]), ["sys"]);
    }
}
