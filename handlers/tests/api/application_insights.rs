//! Telemetry to Application Insights: with `APPLICATIONINSIGHTS_CONNECTION_STRING` the real binary uploads
//! requests, dependencies, traces (its log lines) and metrics to the connection string's ingestion endpoint, in
//! Application Insights' envelopes, under the caller's W3C trace id as the operation id, each upload carrying
//! an Entra token from the managed identity when `APPLICATIONINSIGHTS_AUTHENTICATION_STRING` asks for it.

use serde_json::{Value, json};

use crate::ingestion::{Ingestion, TOKEN, start};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER: &str = "00f067aa0ba902b7";

fn in_trace(envelopes: &[Value], base_type: &str) -> Vec<Value> {
    envelopes
        .iter()
        .filter(|e| e["data"]["baseType"] == base_type && e["tags"]["ai.operation.id"] == TRACE)
        .cloned()
        .collect()
}

#[tokio::test]
async fn requests_dependencies_traces_and_metrics_arrive_under_the_trace_id_with_an_entra_token() {
    let ingestion = Ingestion::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut command = ingestion.handler(dir.path());
    // With Elasticsearch as the read model (when the engine runs), its calls are dependencies too.
    let elasticsearch = std::env::var("ELASTICSEARCH_URL").ok().filter(|u| !u.is_empty());
    if let Some(url) = &elasticsearch {
        let prefix = format!("ai{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        command.env("ELASTICSEARCH_URL", url).env("ELASTICSEARCH_INDEX_PREFIX", prefix);
    }
    let handler = start(command).await;
    let http = reqwest::Client::new();
    let body = json!({"commandId": crate::helpers::id(), "type": "receive", "location": "store-1",
                      "sku": "apple-pie", "quantity": 3});
    let answer = http
        .post(format!("{}/api/commands", handler.base))
        .header("traceparent", format!("00-{TRACE}-{CALLER}-01"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);

    ingestion
        .wait_for("a request, dependencies, a trace and pieshop.commands in the trace", |i| {
            let envelopes = i.envelopes();
            !in_trace(&envelopes, "RequestData").is_empty()
                && !in_trace(&envelopes, "RemoteDependencyData").is_empty()
                && in_trace(&envelopes, "MessageData").iter().any(|m| m["data"]["baseData"]["message"] == "projected")
                && i.metric_rows().iter().any(|r| r.name == "pieshop.commands")
                && (elasticsearch.is_none()
                    || in_trace(&envelopes, "RemoteDependencyData")
                        .iter()
                        .any(|d| d["data"]["baseData"]["type"] == "elasticsearch"))
        })
        .await;
    let envelopes = ingestion.envelopes();
    let request = &in_trace(&envelopes, "RequestData")[0];
    assert_eq!(request["name"], "Microsoft.ApplicationInsights.Request");
    assert_eq!(request["iKey"], "00000000-0000-0000-0000-000000000024");
    assert_eq!(request["tags"]["ai.operation.parentId"], CALLER, "the request joins the caller's span");
    assert_eq!(request["data"]["baseData"]["responseCode"], "200");
    assert_eq!(request["tags"]["ai.cloud.role"], "pieshop");
    assert!(request["tags"]["ai.cloud.roleInstance"].as_str().is_some_and(|i| !i.is_empty()), "per instance");
    let dependencies = in_trace(&envelopes, "RemoteDependencyData");
    let names: Vec<&str> = dependencies.iter().filter_map(|d| d["data"]["baseData"]["name"].as_str()).collect();
    assert!(names.contains(&"publish") && names.contains(&"project"), "{names:?}");
    if elasticsearch.is_some() {
        let types: Vec<(&str, &str)> = dependencies
            .iter()
            .filter_map(|d| Some((d["data"]["baseData"]["name"].as_str()?, d["data"]["baseData"]["type"].as_str()?)))
            .collect();
        assert!(
            types.contains(&("Elasticsearch apply_batch", "elasticsearch")),
            "the read model's calls are Elasticsearch dependencies in the command's trace: {types:?}"
        );
    }
    let answered = in_trace(&envelopes, "MessageData");
    assert!(answered.iter().any(|m| m["data"]["baseData"]["message"] == "command answered"), "{answered:?}");

    let received = ingestion.received.lock().unwrap();
    assert!(!received.uploads.is_empty());
    for (path, authorization) in &received.uploads {
        assert_eq!(path, "/v2.1/track", "Entra-authenticated uploads go to v2.1");
        assert_eq!(authorization.as_deref(), Some(format!("Bearer {TOKEN}").as_str()));
    }
    assert!(
        received.token_resources.iter().all(|r| r.trim_end_matches('/') == "https://monitor.azure.com"),
        "tokens for Azure Monitor: {:?}",
        received.token_resources
    );
}
