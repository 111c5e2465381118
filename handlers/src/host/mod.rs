//! The Azure Functions custom-handler protocol (`docs/protocol/functions-custom-handler.md`): where to
//! listen, and the `{Data, Metadata}` / `{Outputs, Logs, ReturnValue}` envelopes of non-HTTP triggers.

pub mod envelope;
pub mod listen;
