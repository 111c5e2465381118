//! The SignalR JSON hub protocol, as much as a push-only hub needs: the handshake, invocations out, pings both
//! ways, close. Written here because no Rust crate implements the server side (docs/protocol/push-deadletter-auth.md
//! A3); it is only text framing over serde_json. Spec: dotnet/aspnetcore `src/SignalR/docs/specs/HubProtocol.md`
//! ("JSON Encoding", handshake, message types); client behaviour: push-deadletter-auth.md A1.

use serde::Deserialize;
use serde_json::{Value, json};

/// Every JSON message, the handshake included, ends with the ASCII record separator.
pub const RECORD_SEPARATOR: char = '\u{1e}';
/// The only version of the JSON protocol (the client sends 1 unless stateful reconnect was negotiated).
const JSON_VERSION: u64 = 1;

/// A client's first message that cannot start a session (the server answers with an error, then closes).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    #[error("Requested protocol '{0}' is not available.")]
    Protocol(String),
    #[error("Requested protocol version {0} is not available.")]
    Version(u64),
    #[error("Handshake request is malformed.")]
    Malformed,
}

#[derive(Deserialize)]
struct HandshakeRequest {
    protocol: String,
    version: u64,
}

/// Checks a handshake request (one record, separator removed): `{"protocol":"json","version":1}`.
pub fn handshake(record: &str) -> Result<(), HandshakeError> {
    let request: HandshakeRequest = serde_json::from_str(record).map_err(|_| HandshakeError::Malformed)?;
    if request.protocol != "json" {
        return Err(HandshakeError::Protocol(request.protocol));
    }
    if request.version != JSON_VERSION {
        return Err(HandshakeError::Version(request.version));
    }
    Ok(())
}

/// The handshake answer: `{}` on success, `{"error":"…"}` otherwise.
pub fn handshake_response(result: &Result<(), HandshakeError>) -> String {
    match result {
        Ok(()) => frame(&json!({})),
        Err(error) => frame(&json!({ "error": error.to_string() })),
    }
}

/// A non-blocking invocation (no `invocationId`: the client sends no answer).
pub fn invocation(target: &str, arguments: &[Value]) -> String {
    frame(&json!({ "type": 1, "target": target, "arguments": arguments }))
}

/// The keep-alive, sent on an interval when nothing else was.
pub fn ping() -> String {
    frame(&json!({ "type": 6 }))
}

/// Ends the session; with `allow_reconnect` the client's automatic reconnect starts again.
pub fn close(error: Option<&str>, allow_reconnect: bool) -> String {
    let mut message = json!({ "type": 7 });
    if let Some(error) = error {
        message["error"] = json!(error);
    }
    if allow_reconnect {
        message["allowReconnect"] = json!(true);
    }
    frame(&message)
}

/// The answer to a blocking invocation: this hub has no methods a client may call.
pub fn completion_error(invocation_id: &str, error: &str) -> String {
    frame(&json!({ "type": 3, "invocationId": invocation_id, "error": error }))
}

fn frame(message: &Value) -> String {
    let mut text = message.to_string();
    text.push(RECORD_SEPARATOR);
    text
}

/// What a client sent after the handshake.
#[derive(Debug, PartialEq, Eq)]
pub enum ClientMessage {
    Ping,
    Close,
    /// A call to a hub method; it wants an answer when it carries an id.
    Invocation {
        invocation_id: Option<String>,
    },
    /// Any other type (stream items, cancellations, acks): ignored.
    Other,
    Malformed,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: u8,
    #[serde(rename = "invocationId")]
    invocation_id: Option<String>,
}

/// Reads one record (separator removed).
pub fn client_message(record: &str) -> ClientMessage {
    match serde_json::from_str::<Envelope>(record) {
        Ok(Envelope { kind: 6, .. }) => ClientMessage::Ping,
        Ok(Envelope { kind: 7, .. }) => ClientMessage::Close,
        Ok(Envelope { kind: 1 | 4, invocation_id }) => ClientMessage::Invocation { invocation_id },
        Ok(_) => ClientMessage::Other,
        Err(_) => ClientMessage::Malformed,
    }
}

/// Collects text as it arrives (a frame may hold several records, or part of one) and yields whole records.
#[derive(Debug, Default)]
pub struct Records {
    partial: String,
}

/// Most text a record may grow to before the client is treated as misbehaving.
const MAX_RECORD: usize = 64 * 1024;

/// A client sent a record longer than `MAX_RECORD`.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("a message is longer than {MAX_RECORD} bytes")]
pub struct TooLong;

impl Records {
    /// Adds `text` and returns the records it completed, in order.
    pub fn push(&mut self, text: &str) -> Result<Vec<String>, TooLong> {
        self.partial.push_str(text);
        let mut records: Vec<String> = self.partial.split(RECORD_SEPARATOR).map(str::to_owned).collect();
        self.partial = records.pop().unwrap_or_default();
        if self.partial.len() > MAX_RECORD {
            return Err(TooLong);
        }
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// HubProtocol.md "Overview": the handshake example with the JSON protocol; and the spec's own
    /// `messagepack` example, which this hub answers with the spec's error text.
    #[test]
    fn handshake_accepts_json_version_1_and_answers_the_specs_error_for_other_protocols() {
        assert_eq!(handshake(r#"{"protocol":"json","version":1}"#), Ok(()));
        assert_eq!(handshake_response(&Ok(())), "{}\u{1e}");
        let messagepack = handshake("{\n    \"protocol\": \"messagepack\",\n    \"version\": 1\n}");
        assert_eq!(messagepack, Err(HandshakeError::Protocol("messagepack".into())));
        assert_eq!(
            handshake_response(&messagepack),
            "{\"error\":\"Requested protocol 'messagepack' is not available.\"}\u{1e}"
        );
        assert_eq!(handshake(r#"{"protocol":"json","version":2}"#), Err(HandshakeError::Version(2)));
        assert_eq!(handshake("GET / HTTP/1.1"), Err(HandshakeError::Malformed));
        assert_eq!(handshake(r#"{"protocol":"json"}"#), Err(HandshakeError::Malformed));
    }

    /// HubProtocol.md "JSON Encoding": `{"type": 1, "target": "Send", "arguments": [42, "Test Message"]}` is a
    /// non-blocking invocation; Ping is `{"type": 6}`; Close is `{"type": 7}` with optional `error` and
    /// `allowReconnect`.
    #[test]
    fn server_messages_are_the_specs_json_with_a_record_separator() {
        let parse = |text: &str| -> Value {
            let record = text.strip_suffix(RECORD_SEPARATOR).expect("ends with the record separator");
            serde_json::from_str(record).unwrap()
        };
        assert_eq!(
            parse(&invocation("Send", &[json!(42), json!("Test Message")])),
            json!({"type": 1, "target": "Send", "arguments": [42, "Test Message"]})
        );
        assert_eq!(parse(&ping()), json!({"type": 6}));
        assert_eq!(parse(&close(None, false)), json!({"type": 7}));
        assert_eq!(
            parse(&close(Some("Connection closed because of an error!"), true)),
            json!({"type": 7, "error": "Connection closed because of an error!", "allowReconnect": true})
        );
        assert_eq!(
            parse(&completion_error("123", "no such method")),
            json!({"type": 3, "invocationId": "123", "error": "no such method"})
        );
    }

    #[test]
    fn client_messages_are_read_by_type() {
        assert_eq!(client_message(r#"{"type": 6}"#), ClientMessage::Ping);
        assert_eq!(client_message(r#"{"type":7,"error":"bye"}"#), ClientMessage::Close);
        assert_eq!(
            client_message(r#"{"type":1,"invocationId":"123","target":"Send","arguments":[42]}"#),
            ClientMessage::Invocation { invocation_id: Some("123".into()) }
        );
        assert_eq!(
            client_message(r#"{"type":1,"target":"Send","arguments":[42]}"#),
            ClientMessage::Invocation { invocation_id: None }
        );
        assert_eq!(client_message(r#"{"type":5,"invocationId":"123"}"#), ClientMessage::Other);
        assert_eq!(client_message("not json"), ClientMessage::Malformed);
    }

    /// TransportProtocols/HubProtocol: one frame may carry several records, and a record may span frames.
    #[test]
    fn records_split_on_the_separator_across_frames() {
        let mut records = Records::default();
        assert_eq!(
            records.push("{\"protocol\":\"json\",\"version\":1}\u{1e}{\"type\":6}\u{1e}{\"ty"),
            Ok(vec![r#"{"protocol":"json","version":1}"#.to_owned(), r#"{"type":6}"#.to_owned()])
        );
        assert_eq!(records.push("pe\":7}\u{1e}"), Ok(vec![r#"{"type":7}"#.to_owned()]));
        assert_eq!(records.push(""), Ok(vec![]));
        assert_eq!(records.push(&"x".repeat(MAX_RECORD + 1)), Err(TooLong));
    }
}
