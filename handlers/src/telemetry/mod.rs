//! Logs, traces and metrics: `tracing` for every line and span, the OpenTelemetry SDK behind it.
//!
//! Logs are human text standalone and one JSON object per line under the Functions host (or with
//! `PIESHOP_LOG_FORMAT=json`), each carrying the fields of the spans it is in: `trace_id`, the function and the
//! host's invocation id, `command_id`, `event_id`. Spans go to the OpenTelemetry SDK always, so trace ids exist
//! even when nothing is exported; with `OTEL_EXPORTER_OTLP_ENDPOINT` they and the metrics (`metrics.rs`) are
//! exported over OTLP/HTTP, and with `APPLICATIONINSIGHTS_CONNECTION_STRING` to Application Insights
//! (`application_insights.rs`); both may be on at once. The SDK's batch span processor and periodic metric reader
//! read `OTEL_BSP_SCHEDULE_DELAY` and `OTEL_METRIC_EXPORT_INTERVAL` themselves.

#[cfg(feature = "azure")]
pub mod application_insights;
pub mod metrics;
pub mod trace_context;

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{MetricExporter, SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// How log lines are written (`PIESHOP_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event (the standalone default).
    Text,
    /// One JSON object per line, with the fields of every span it is in (the default under the Functions host,
    /// whose log collection reads one object per line).
    Json,
}

/// The exporter could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("OTLP exporter: {0}")]
    Exporter(String),
    /// Says what is wrong, never the connection string itself.
    #[error("Application Insights exporter: {0}")]
    ApplicationInsights(String),
}

/// Where spans and metrics are exported (none: only the log lines).
#[derive(Clone, Default)]
pub struct Export {
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub otlp_endpoint: Option<String>,
    #[cfg(feature = "azure")]
    pub application_insights: Option<application_insights::Destination>,
}

/// Keeps the providers alive; `shutdown` flushes what is still buffered.
pub struct Telemetry {
    tracer: SdkTracerProvider,
    meter: Option<SdkMeterProvider>,
}

impl Telemetry {
    /// Flushes and stops the exporters (spans and metrics not yet sent are sent now).
    pub fn shutdown(self) {
        if let Err(error) = self.tracer.shutdown() {
            tracing::warn!(%error, "flushing spans failed");
        }
        if let Some(meter) = self.meter
            && let Err(error) = meter.shutdown()
        {
            tracing::warn!(%error, "flushing metrics failed");
        }
    }
}

/// Where log lines go: stdout while serving (the host collects it), stderr for an operator command, whose stdout
/// is its report (and may be JSON for a script).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogTo {
    Stdout,
    Stderr,
}

/// Which instance this process is (Application Insights' `cloud_RoleInstance`, what per-instance charts split
/// by): the platform's instance id where it sets one, else one made for this process.
fn instance_id() -> String {
    std::env::var("WEBSITE_INSTANCE_ID")
        .ok()
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string())
}

/// Installs the global subscriber (filter from `RUST_LOG`, default `info`), the tracer provider, and the span
/// and metric exporters `export` names. Call once, inside the tokio runtime.
pub fn init(format: LogFormat, to: LogTo, export: Export) -> Result<Telemetry, TelemetryError> {
    let resource = Resource::builder()
        .with_service_name("pieshop")
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .with_attribute(KeyValue::new("service.instance.id", instance_id()))
        .build();
    let mut tracer = SdkTracerProvider::builder().with_resource(resource.clone());
    let mut meter = SdkMeterProvider::builder().with_resource(resource.clone());
    let mut exporting_metrics = false;
    if let Some(endpoint) = &export.otlp_endpoint {
        let base = endpoint.trim_end_matches('/');
        let spans = SpanExporter::builder()
            .with_http()
            .with_endpoint(format!("{base}/v1/traces"))
            .build()
            .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
        tracer = tracer.with_batch_exporter(spans);
        let metrics = MetricExporter::builder()
            .with_http()
            .with_endpoint(format!("{base}/v1/metrics"))
            .build()
            .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
        // The reader's interval comes from OTEL_METRIC_EXPORT_INTERVAL (default 60 s), as the SDK documents.
        meter = meter.with_reader(PeriodicReader::builder(metrics).build());
        exporting_metrics = true;
    }
    #[cfg(feature = "azure")]
    if let Some(destination) = export.application_insights {
        let client = application_insights::Ingestion::new(destination.entra)
            .map_err(|e| TelemetryError::ApplicationInsights(e.to_string()))?;
        // The exporter's own error would quote the connection string; say only what is wrong with it.
        let exporter = opentelemetry_application_insights::Exporter::new_from_connection_string(
            &destination.connection_string,
            client,
        )
        .map_err(|_| {
            TelemetryError::ApplicationInsights(
                "APPLICATIONINSIGHTS_CONNECTION_STRING is not a connection string with an instrumentation key".into(),
            )
        })?;
        tracer = tracer.with_batch_exporter(exporter.clone());
        meter = meter.with_reader(PeriodicReader::builder(exporter).build());
        exporting_metrics = true;
    }
    let meter = exporting_metrics.then(|| {
        let provider = meter.build();
        opentelemetry::global::set_meter_provider(provider.clone());
        provider
    });
    let tracer = tracer.build();
    opentelemetry::global::set_text_map_propagator(opentelemetry_sdk::propagation::TraceContextPropagator::new());
    let spans = tracing_opentelemetry::layer().with_tracer(tracer.tracer("pieshop"));
    let writer = match to {
        LogTo::Stdout => tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::stdout),
        LogTo::Stderr => tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::stderr),
    };
    let terminal = match to {
        LogTo::Stdout => std::io::IsTerminal::is_terminal(&std::io::stdout()),
        LogTo::Stderr => std::io::IsTerminal::is_terminal(&std::io::stderr()),
    };
    let lines = match format {
        LogFormat::Text => {
            tracing_subscriber::fmt::layer().with_writer(writer).with_target(false).with_ansi(terminal).boxed()
        }
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .with_target(false)
            .boxed(),
    };
    tracing_subscriber::registry()
        .with(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with(lines)
        .with(spans)
        .init();
    Ok(Telemetry { tracer, meter })
}
