//! Telemetry of the real binary: its spans and metrics arrive over OTLP/HTTP at a receiver this test runs
//! (decoding the OTLP protobuf types), and its JSON log lines carry the same trace.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use pieshop_testkit::process::Standalone;
use prost::Message;
use serde_json::{Value, json};

/// What the receiver got: every span, and the names of every metric exported.
#[derive(Default)]
struct Received {
    spans: Vec<Span>,
    metrics: Vec<(String, String)>,
}

type Shared = Arc<Mutex<Received>>;

async fn traces(State(received): State<Shared>, body: Bytes) -> &'static [u8] {
    let request = ExportTraceServiceRequest::decode(body).expect("OTLP trace export");
    let spans = request.resource_spans.into_iter().flat_map(|r| r.scope_spans).flat_map(|s| s.spans);
    received.lock().unwrap().spans.extend(spans);
    &[]
}

async fn metrics(State(received): State<Shared>, body: Bytes) -> &'static [u8] {
    let request = ExportMetricsServiceRequest::decode(body).expect("OTLP metrics export");
    let metrics = request.resource_metrics.into_iter().flat_map(|r| r.scope_metrics).flat_map(|s| s.metrics);
    let names = metrics.map(|m| {
        use opentelemetry_proto::tonic::metrics::v1::metric::Data;
        let attributes = match &m.data {
            Some(Data::Sum(sum)) => format!("{:?}", sum.data_points.iter().map(|p| &p.attributes).collect::<Vec<_>>()),
            _ => String::new(),
        };
        (m.name, attributes)
    });
    received.lock().unwrap().metrics.extend(names);
    &[]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One command sent with a `traceparent`: its request, command, publish and projection spans arrive in that
/// trace with the right parents, the command metric arrives, and the JSON log lines carry the trace id.
#[tokio::test]
async fn one_commands_spans_arrive_linked_and_its_log_lines_share_the_trace() {
    let received: Shared = Arc::default();
    let app = Router::new()
        .route("/v1/traces", post(traces))
        .route("/v1/metrics", post(metrics))
        .with_state(received.clone());
    let receiver = pieshop_testkit::served::stand_in(app).await;

    let dir = tempfile::tempdir().unwrap();
    let mut command = crate::helpers::handler_command();
    command
        .env("PIESHOP_DATA_DIR", dir.path())
        .env("PIESHOP_LOG_FORMAT", "json")
        .env("RUST_LOG", "debug,h2=info,hyper=info,reqwest=info,opentelemetry=info")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver)
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("OTEL_METRIC_EXPORT_INTERVAL", "200")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let server = Standalone::spawn(&mut command, "127.0.0.1");
    assert!(server.ready(Duration::from_secs(20)).await, "server never started");
    let base = server.base.clone();
    let http = reqwest::Client::new();

    let (trace, caller) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let command_id = uuid::Uuid::new_v4().to_string();
    let command =
        json!({"commandId": command_id, "type": "receive", "location": "store-1", "sku": "apple-pie", "quantity": 3});
    let answer = http
        .post(format!("{base}/api/commands"))
        .header("traceparent", format!("00-{trace}-{caller}-01"))
        .json(&command)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);

    let deadline = Instant::now() + Duration::from_secs(20);
    let spans = loop {
        let spans: Vec<Span> =
            received.lock().unwrap().spans.iter().filter(|s| hex(&s.trace_id) == trace).cloned().collect();
        let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
        let has_metric =
            received.lock().unwrap().metrics.iter().any(|(n, a)| n == "pieshop.commands" && a.contains("applied"));
        if ["POST command", "command", "publish", "project"].iter().all(|n| names.contains(n)) && has_metric {
            break spans;
        }
        assert!(Instant::now() < deadline, "spans in the trace so far: {names:?}, metric seen: {has_metric}");
        tokio::time::sleep(Duration::from_millis(50)).await; // polling the receiver
    };
    let by_name = |name: &str| spans.iter().find(|s| s.name == name).unwrap();
    let request = by_name("POST command");
    assert_eq!(hex(&request.parent_span_id), caller, "the request joins the caller's span");
    assert_eq!(request.kind, opentelemetry_proto::tonic::trace::v1::span::SpanKind::Server as i32);
    let command_span = by_name("command");
    assert_eq!(command_span.parent_span_id, request.span_id);
    assert_eq!(by_name("publish").parent_span_id, command_span.span_id, "its events carry the command's span");
    assert_eq!(by_name("project").parent_span_id, command_span.span_id);

    let output = server.process.stop();
    let lines: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not one JSON object per line: {line}")))
        .collect();
    let in_trace = |line: &&Value| line["spans"].as_array().is_some_and(|s| s.iter().any(|s| s["trace_id"] == trace));
    let answered = lines.iter().filter(in_trace).find(|l| l["message"] == "command answered");
    let answered = answered.unwrap_or_else(|| panic!("no 'command answered' line in the trace: {lines:#?}"));
    assert!(answered["spans"].as_array().unwrap().iter().any(|s| s["command_id"] == command_id.as_str()), "{answered}");
    assert!(answered["spans"][0]["invocation_id"].is_null() && answered["spans"][0]["function"] == "command");
    assert!(lines.iter().filter(in_trace).any(|l| l["message"] == "projected"), "the projection logs in the trace");
    assert!(lines.iter().all(|l| l["level"].is_string() && l["message"].is_string() || l["fields"].is_object()));
}
