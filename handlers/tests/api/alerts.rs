//! The alerts in `bicep/modules/alerts.bicep` can fire: the real binary, sending to a local Application Insights
//! ingestion endpoint, is driven into each failure an alert is for (a projection running late, an outbox that
//! cannot drain, a malformed event, drift found by verify); every metric name an alert's query asks for is one
//! the handler sent, and each alert's condition, evaluated over the `customMetrics` rows it sent, holds. The
//! workbook (`bicep/modules/workbook.bicep`) charts only names the handler sent.
//! Dead letters and 5xx are alerts on platform metrics (Event Grid's `DeadLetteredCount`, the site's
//! `Http5xx`), which Azure itself emits; the deployed-shape suite shows the dead-lettering they count.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::helpers::{fixture, id};
use crate::ingestion::{Ingestion, MetricRow, start};

fn bicep(file: &str) -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "bicep", file].iter().collect();
    std::fs::read_to_string(path).unwrap()
}

/// The query of every log search alert (`scheduledQueryRules`), by resource symbol.
fn alert_queries() -> Vec<(String, String)> {
    let text = bicep("modules/alerts.bicep");
    let mut queries = Vec::new();
    for block in text.split("\nresource ").skip(1) {
        let symbol = block.split_whitespace().next().unwrap().to_owned();
        if !block.contains("Microsoft.Insights/scheduledQueryRules") {
            continue;
        }
        let query = block.split("query: '").nth(1).unwrap().split("'\n").next().unwrap().to_owned();
        queries.push((symbol, query));
    }
    queries
}

/// Metric names a KQL query filters on (`name == "x"`, `name in ("x", "y")`).
fn names_in(query: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for part in query.split("name == \"").skip(1) {
        names.insert(part.split('"').next().unwrap().to_owned());
    }
    for part in query.split("name in (").skip(1) {
        let list = part.split(')').next().unwrap();
        names.extend(list.split(',').map(|n| n.trim().trim_matches('"').to_owned()));
    }
    names
}

/// A `param NAME int = VALUE` default of `bicep/main.bicep`.
fn threshold(param: &str) -> f64 {
    let text = bicep("main.bicep");
    let line = text.lines().find(|l| l.starts_with(&format!("param {param} int = "))).unwrap();
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

fn max_of(rows: &[MetricRow], name: &str) -> f64 {
    rows.iter().filter(|r| r.name == name).map(|r| r.value_max).fold(f64::MIN, f64::max)
}

fn sum_of(rows: &[MetricRow], name: &str) -> f64 {
    rows.iter().filter(|r| r.name == name).map(|r| r.value_sum).sum()
}

/// A stock event as Event Grid delivers it to `/projection`, recorded `age` ago, for an item no command touched.
fn late_event_for_an_unknown_item(age: std::time::Duration) -> Value {
    let recorded = pieshop::domain::Timestamp::now().minus(age).to_string();
    let event = json!({"data": {"commandId": id(), "delta": 5, "location": "store-9", "quantity": 5,
                                "recordedAt": recorded, "sku": "ghost-pie", "version": 1},
                       "datacontenttype": "application/json", "id": id(), "source": "/pieshop/inventory",
                       "specversion": "1.0", "subject": "store-9/ghost-pie", "time": recorded,
                       "type": "pieshop.StockReceived"});
    json!({"Data": {"eventGridEvent": event}, "Metadata": {}})
}

#[tokio::test]
async fn every_alert_queries_a_metric_the_handler_sends_and_fires_on_its_failure() {
    let ingestion = Ingestion::start().await;
    let http = reqwest::Client::new();

    // A projection running late, a malformed event, and drift (a read-model item the write model never had).
    let dir = tempfile::tempdir().unwrap();
    let running = start(ingestion.handler(dir.path())).await;
    let post = |path: &str, body: &Value| http.post(format!("{}{path}", running.base)).json(body).send();
    let late = late_event_for_an_unknown_item(std::time::Duration::from_secs(120));
    let answer: Value = post("/projection", &late).await.unwrap().json().await.unwrap();
    assert!(answer["Logs"][0].as_str().unwrap().starts_with("projected"), "{answer}");
    // A pieshop event that breaks its version's shape (another publisher's event is ignored, not malformed).
    let mut broken = late_event_for_an_unknown_item(std::time::Duration::ZERO);
    broken["Data"]["eventGridEvent"]["data"] = json!({});
    let answer: Value = post("/projection", &broken).await.unwrap().json().await.unwrap();
    assert!(answer["Logs"][0].as_str().unwrap().contains("malformed"), "{answer}");
    let answer: Value = post("/verify", &fixture("d-timer-request.json")).await.unwrap().json().await.unwrap();
    assert!(answer["Logs"].to_string().contains("drift"), "{answer}");

    // An outbox that cannot drain: the read model (so in-process delivery) unreachable on a closed port.
    let dir = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut command = ingestion.handler(dir.path());
    command.env("ELASTICSEARCH_URL", format!("http://127.0.0.1:{closed}"));
    let stuck = start(command).await;
    let commands: Vec<Value> = (0..201)
        .map(|n| {
            json!({"commandId": id(), "type": "receive", "location": "store-1", "sku": format!("pie-{n}"),
                        "quantity": 1})
        })
        .collect();
    let batch = http.post(format!("{}/api/commands/batch", stuck.base)).json(&json!({"commands": commands}));
    assert_eq!(batch.send().await.unwrap().status(), 200, "commands are taken while the read model is down");

    let lag = threshold("projectionLagThresholdMs");
    let backlog = threshold("outboxBacklogThreshold");
    ingestion
        .wait_for("lag, backlog, malformed and drift past their alerts' thresholds", |i| {
            let rows = i.metric_rows();
            max_of(&rows, "pieshop.projection.lag") > lag
                && max_of(&rows, "pieshop.outbox.backlog") > backlog
                && sum_of(&rows, "pieshop.events.malformed") > 0.0
                && max_of(&rows, "pieshop.verify.drift") > 0.0
        })
        .await;
    drop((running, stuck));

    let rows = ingestion.metric_rows();
    let sent: BTreeSet<String> = rows.iter().map(|r| r.name.clone()).collect();
    let queries = alert_queries();
    let symbols: Vec<&str> = queries.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(symbols, ["projectionLag", "outboxBacklog", "malformedEvents", "verifyDrift"]);
    for (symbol, query) in &queries {
        let asked = names_in(query);
        assert!(!asked.is_empty(), "{symbol} queries no metric name: {query}");
        for name in &asked {
            assert!(sent.contains(name), "{symbol} queries {name}, which the handler never sent (sent: {sent:?})");
        }
        // Each condition, as its query computes it, over what the failure sent.
        let fires = match symbol.as_str() {
            "projectionLag" => query.contains("max(valueMax)") && max_of(&rows, "pieshop.projection.lag") > lag,
            "outboxBacklog" => {
                query.contains("Backlog > ${outboxBacklogThreshold}")
                    && max_of(&rows, "pieshop.outbox.backlog") > backlog
            }
            "malformedEvents" => query.contains("sum(valueSum)") && sum_of(&rows, "pieshop.events.malformed") > 0.0,
            "verifyDrift" => query.contains("max(valueMax)") && max_of(&rows, "pieshop.verify.drift") > 0.0,
            other => panic!("no failure drives {other}: add one here"),
        };
        assert!(fires, "{symbol}'s condition is not met by its failure's telemetry: {query}");
    }
    // The workbook charts the same names.
    let workbook = bicep("modules/workbook.bicep");
    let charted: Vec<BTreeSet<String>> =
        workbook.split("query: '").skip(1).map(|q| names_in(q.split("'\n").next().unwrap())).collect();
    assert!(charted.len() >= 7, "{charted:?}");
    for name in charted.iter().flatten() {
        assert!(sent.contains(name), "the workbook charts {name}, which the handler never sent (sent: {sent:?})");
    }
}
