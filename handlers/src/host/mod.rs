//! The Azure Functions custom-handler protocol (`docs/protocol/functions-custom-handler.md`): where to
//! listen, and the `{Data, Metadata}` / `{Outputs, Logs, ReturnValue}` envelopes of non-HTTP triggers and of HTTP
//! functions a host neither proxies nor forwards.

pub mod envelope;
pub mod http_envelope;
pub mod listen;
