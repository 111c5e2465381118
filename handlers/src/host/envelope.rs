//! Invocation envelopes. The host POSTs `{"Data": {<binding>: value}, "Metadata": {...}}` to `/<function>`
//! for every non-forwarded trigger, and expects a 200 JSON object `{"Outputs", "Logs", "ReturnValue"}` back
//! (an empty body would leave the invocation hanging; a non-2xx fails it).

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::{Map, Value, json};

/// The envelope was not the host's shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("no Data object")]
    NoData,
}

/// An invocation from the host.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub data: Map<String, Value>,
    pub metadata: Value,
}

impl Invocation {
    pub fn parse(body: &[u8]) -> Result<Self, EnvelopeError> {
        let value: Value = serde_json::from_slice(body).map_err(|e| EnvelopeError::NotJson(e.to_string()))?;
        let mut object = match value {
            Value::Object(object) => object,
            _ => return Err(EnvelopeError::NoData),
        };
        let data = match object.remove("Data") {
            Some(Value::Object(data)) => data,
            _ => return Err(EnvelopeError::NoData),
        };
        Ok(Self { data, metadata: object.remove("Metadata").unwrap_or(Value::Null) })
    }

    /// The trigger's value(s): the named binding, or else the only binding. A JSON array (a batch, however
    /// encoded) yields its elements; anything else is one value, still possibly a string of JSON.
    pub fn trigger_values(mut self, binding: &str) -> Vec<Value> {
        let value = match self.data.remove(binding) {
            Some(value) => value,
            None => self.data.into_iter().next().map(|(_, value)| value).unwrap_or(Value::Null),
        };
        if let Value::Array(items) = value {
            return items;
        }
        match peel_to_array(&value) {
            Some(items) => items,
            None => vec![value],
        }
    }
}

/// If the value is a string of (a string of) a JSON array, its elements.
fn peel_to_array(value: &Value) -> Option<Vec<Value>> {
    let Value::String(text) = value else { return None };
    let mut current: Value = serde_json::from_str(text).ok()?;
    for _ in 0..2 {
        match current {
            Value::Array(items) => return Some(items),
            Value::String(text) => current = serde_json::from_str(&text).ok()?,
            _ => return None,
        }
    }
    None
}

/// The answer to the host.
#[derive(Debug, Clone, Default)]
pub struct InvocationResult {
    pub outputs: Map<String, Value>,
    pub logs: Vec<String>,
}

impl InvocationResult {
    pub fn logs(logs: Vec<String>) -> Self {
        Self { outputs: Map::new(), logs }
    }
}

impl IntoResponse for InvocationResult {
    fn into_response(self) -> Response {
        let body = json!({"Outputs": self.outputs, "Logs": self.logs, "ReturnValue": null});
        let mut response = (StatusCode::OK, body.to_string()).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
        response
    }
}
