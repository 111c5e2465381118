//! The wire contract of `docs/API.md`: command bodies in, events out and in, JSON views and CSV exports out.
//! Everything that knows a JSON field name lives here; the domain never sees JSON.

pub mod answer_json;
pub mod command_body;
pub mod command_schema;
pub mod csv;
pub mod dead_letter;
pub mod event_json;
pub mod views;
pub mod wire_rules;

/// One thing wrong with a request, and where.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}
