//! The application's metrics, as OpenTelemetry instruments on the global meter. Until a meter provider is
//! installed (no `OTEL_EXPORTER_OTLP_ENDPOINT`), every instrument is a no-op. Names are the ones `bicep/`'s
//! alerts and `docs/RUNBOOK.md` use.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram};

/// Every instrument, created once on first use (after `telemetry::init` has installed the provider).
pub struct Metrics {
    /// `pieshop.commands` {outcome}: commands answered, by what they did (`applied`, `adjusted`, ..., or the
    /// problem type of a refusal).
    pub commands: Counter<u64>,
    /// `pieshop.command.duration` (ms): from the request to the answer.
    pub command_duration: Histogram<f64>,
    /// `pieshop.projection.lag` (ms): from an event's `recordedAt` to the read model holding it.
    pub projection_lag: Histogram<f64>,
    /// `pieshop.events.malformed`: events acknowledged but unreadable.
    pub malformed: Counter<u64>,
    /// `pieshop.cache.requests` {result = hit | miss}: answers served from the cache, and not.
    pub cache: Counter<u64>,
}

/// Gauges the relay and the verify timer set; the meter reads them when it exports.
#[derive(Default)]
pub struct Gauges {
    /// `pieshop.outbox.backlog`: events committed and not yet published (as of the last look).
    pub backlog: AtomicU64,
    /// `pieshop.outbox.oldest_age` (s): the oldest of them.
    pub oldest_age_seconds: AtomicU64,
    /// `pieshop.verify.drift`: items that differ between the write and the read model at the last verify.
    pub drift: AtomicU64,
}

static METRICS: OnceLock<Metrics> = OnceLock::new();
static GAUGES: OnceLock<Gauges> = OnceLock::new();

/// The instruments (no-ops until a provider is installed).
pub fn metrics() -> &'static Metrics {
    METRICS.get_or_init(|| {
        let meter = opentelemetry::global::meter("pieshop");
        register_gauges(&meter);
        Metrics {
            commands: meter.u64_counter("pieshop.commands").with_description("commands answered, by outcome").build(),
            command_duration: meter
                .f64_histogram("pieshop.command.duration")
                .with_unit("ms")
                .with_description("request to answer")
                .build(),
            projection_lag: meter
                .f64_histogram("pieshop.projection.lag")
                .with_unit("ms")
                .with_description("an event's recordedAt to the read model holding it")
                .build(),
            malformed: meter.u64_counter("pieshop.events.malformed").with_description("unreadable events").build(),
            cache: meter.u64_counter("pieshop.cache.requests").with_description("answers by cache hit or miss").build(),
        }
    })
}

/// The values the gauges report.
pub fn gauges() -> &'static Gauges {
    GAUGES.get_or_init(Gauges::default)
}

fn register_gauges(meter: &opentelemetry::metrics::Meter) {
    let read = |pick: fn(&Gauges) -> &AtomicU64| move || pick(gauges()).load(Ordering::Relaxed);
    let backlog = read(|g| &g.backlog);
    meter
        .u64_observable_gauge("pieshop.outbox.backlog")
        .with_description("events committed, not yet published")
        .with_callback(move |o| o.observe(backlog(), &[]))
        .build();
    let oldest = read(|g| &g.oldest_age_seconds);
    meter
        .u64_observable_gauge("pieshop.outbox.oldest_age")
        .with_unit("s")
        .with_description("age of the oldest unpublished event")
        .with_callback(move |o| o.observe(oldest(), &[]))
        .build();
    let drift = read(|g| &g.drift);
    meter
        .u64_observable_gauge("pieshop.verify.drift")
        .with_description("items that differ between write and read model at the last verify")
        .with_callback(move |o| o.observe(drift(), &[]))
        .build();
}

/// Counts one answered command.
pub fn command_answered(outcome: &str, millis: f64) {
    let m = metrics();
    m.commands.add(1, &[KeyValue::new("outcome", outcome.to_owned())]);
    m.command_duration.record(millis, &[]);
}
