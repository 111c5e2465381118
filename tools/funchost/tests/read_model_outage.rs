//! A read-model outage never stops an instance nor the command path (issue 24, found from outside: an instance
//! restarted while Elasticsearch hung exited three times in a row and served nothing). Through the deployed
//! shape, with Elasticsearch first unreachable (a port that accepts and never answers, or a closed port): the
//! instance becomes ready without a restart, a command succeeds, a query is 503 with `Retry-After`, and once
//! Elasticsearch is reachable Event Grid's redelivery brings the read model up to date.

// The deployed-shape harness, shared with deployed.rs (which uses all of it).
#[allow(dead_code, unused_imports)]
mod shape;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use shape::{Options, Shape, engine, receive};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the stand-in for an unreachable cluster does with a connection.
#[derive(Clone)]
enum Mode {
    /// Accepts and never answers (a hung node, or a network that drops packets after the handshake).
    Hang,
    /// Passes the bytes on to the real cluster.
    Forward(String),
}

/// A loopback port in front of Elasticsearch whose mode the test switches; a switch closes held connections.
fn front(listener: TcpListener, mode: watch::Receiver<Mode>) {
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let mut mode = mode.clone();
            tokio::spawn(async move {
                let current = mode.borrow_and_update().clone();
                match current {
                    Mode::Hang => {
                        let _ = mode.changed().await;
                    }
                    Mode::Forward(target) => {
                        if let Ok(mut server) = TcpStream::connect(target).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    }
                }
            });
        }
    });
}

/// host:port of an `http://host:port` URL.
fn authority(url: &str) -> String {
    url.trim_start_matches("http://").trim_end_matches('/').to_owned()
}

/// The shape on a read model at `elastic_url`, with Event Grid's retry waits shortened.
async fn start(elastic_url: String) -> Shape {
    let args = ["--time-scale", "100"].iter().map(|a| a.to_string()).collect();
    Shape::start(Options { instances: 1, elasticsearch: Some(elastic_url), args, ..Default::default() }).await
}

/// While the read model is unreachable: ready at the first start, commands applied, queries 503 + Retry-After.
async fn serves_commands_without_the_read_model(shape: &Shape) -> Value {
    assert_eq!(shape.instances().await[0]["restarts"], 0, "the instance became ready at its first start");
    let command = receive("store-1", "apple-pie", 5);
    let response = shape.command(&command, None).await;
    assert_eq!(response.status(), StatusCode::OK, "a command needs only the write store and Event Grid");
    let query = shape.get("/api/inventory/store-1/apple-pie", 0, None).await;
    assert_eq!(query.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(query.headers().get("retry-after").is_some(), "a 503 says when to retry");
    let problem: Value = query.json().await.unwrap();
    assert_eq!(problem["type"], "urn:pieshop:problem:unavailable");
    command
}

/// Waits (with a deadline) until the instance's read model shows what the command did.
async fn read_model_catches_up(shape: &Shape) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let response = shape.get("/api/inventory/store-1/apple-pie", 0, None).await;
        if response.status() == StatusCode::OK {
            let item: Value = response.json().await.unwrap();
            assert_eq!(item["quantity"], 5, "{item}");
            return;
        }
        assert!(Instant::now() < deadline, "the read model never caught up: last answer {}", response.status());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_cluster_that_accepts_and_never_answers_stops_neither_start_nor_commands() {
    let Some(elasticsearch) = engine("ELASTICSEARCH_URL") else { return };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (mode, modes) = watch::channel(Mode::Hang);
    front(listener, modes);
    let shape = start(url).await;
    serves_commands_without_the_read_model(&shape).await;
    mode.send_replace(Mode::Forward(authority(&elasticsearch)));
    read_model_catches_up(&shape).await;
}

#[tokio::test]
async fn a_closed_port_stops_neither_start_nor_commands() {
    let Some(elasticsearch) = engine("ELASTICSEARCH_URL") else { return };
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let shape = start(format!("http://127.0.0.1:{port}")).await;
    serves_commands_without_the_read_model(&shape).await;
    // The cluster comes up on that very port.
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let (_mode, modes) = watch::channel(Mode::Forward(authority(&elasticsearch)));
    front(listener, modes);
    read_model_catches_up(&shape).await;
}
