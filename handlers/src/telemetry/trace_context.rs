//! W3C trace context in and out: from a request's `traceparent` header or an event's, onto the spans that do
//! the work, and from a span into the events a command makes. The propagator is OpenTelemetry's own.

use std::collections::HashMap;

use opentelemetry::Context;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_http::HeaderExtractor;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::domain::{Event, TraceParent};

/// The caller's trace context, or an empty one (the span then starts a new trace).
pub fn from_headers(headers: &http::HeaderMap) -> Context {
    opentelemetry::global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(headers)))
}

/// The trace an event was made in, or an empty context.
pub fn from_trace(trace: Option<&TraceParent>) -> Context {
    let Some(trace) = trace else { return Context::new() };
    let carrier = HashMap::from([("traceparent".to_owned(), trace.as_str().to_owned())]);
    opentelemetry::global::get_text_map_propagator(|p| p.extract(&carrier))
}

/// Makes `parent` the parent of `span` (which must not have started; `None`: the span's parent is the current
/// span, or none) and records the trace id on it as `trace_id`, so every log line inside carries it. The span
/// must declare `trace_id = tracing::field::Empty`.
pub fn adopt(span: &Span, parent: Option<Context>) {
    if let Some(parent) = parent.filter(|p| p.span().span_context().is_valid()) {
        // Fails only when no OpenTelemetry layer is installed (unit tests): there is no trace to join then.
        let _ = span.set_parent(parent);
    }
    let context = span.context();
    let trace = context.span().span_context().trace_id();
    if trace != opentelemetry::trace::TraceId::INVALID {
        span.record("trace_id", tracing::field::display(trace));
    }
}

/// Links kept per span: a batch under load holds hundreds of commands' events; the first few identify it.
const MAX_LINKS: usize = 32;

/// A span for work on events (publishing, projecting): in the trace of the first event's command, linked to the
/// others', with the event's and command's ids when there is one event.
pub fn events_span(name: &'static str, events: &[Event]) -> Span {
    let span = match events {
        [one] => tracing::info_span!("events", otel.name = name, event_id = %one.id(), command_id = %one.command_id(),
                                     trace_id = tracing::field::Empty),
        _ => tracing::info_span!("events", otel.name = name, events = events.len(), trace_id = tracing::field::Empty),
    };
    for trace in events.iter().skip(1).filter_map(Event::trace).take(MAX_LINKS) {
        let linked = from_trace(Some(trace)).span().span_context().clone();
        if linked.is_valid() {
            span.add_link(linked);
        }
    }
    adopt(&span, events.first().and_then(Event::trace).map(|t| from_trace(Some(t))));
    span
}

/// `span`'s context as a `traceparent`, to carry into what it causes (a command's events).
pub fn traceparent(span: &Span) -> Option<TraceParent> {
    let mut carrier = HashMap::new();
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&span.context(), &mut carrier));
    carrier.get("traceparent").and_then(|t| TraceParent::parse(t))
}
