//! Publishes events to an Event Grid custom topic with one `reqwest` POST per batch.
//!
//! Hand-written rather than `azure_messaging_eventgrid`: its 0.21 release exports only a serialize-only
//! Event Grid-schema `Event<T>` (no client, no CloudEvents, `null` members for absent fields) and pulls a
//! second `azure_core`. The wire format lives in `contract::event_json`; this file only batches, authenticates
//! and retries.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use azure_core::credentials::{Secret, TokenCredential};
use rand::Rng;
use serde_json::Value;

use crate::contract::event_json::{self, Schema};
use crate::domain::Event;
use crate::ports::{EventPublisher, PublishError};

/// Event Grid refuses requests over 1 MB; stay well under it.
const MAX_BATCH_BYTES: usize = 900 * 1024;
/// Attempts per batch before the events are left to the relay.
const MAX_ATTEMPTS: u32 = 4;
const TOKEN_SCOPE: &str = "https://eventgrid.azure.net/.default";

/// How the publisher proves itself to the topic.
#[derive(Clone)]
pub enum TopicAuth {
    /// Entra token for the app's identity (role EventGrid Data Sender): the default in Azure.
    Entra(Arc<dyn TokenCredential>),
    /// A topic access key (`aeg-sas-key`), only where local auth is enabled.
    Key(Secret),
}

/// Where and how to publish.
#[derive(Clone)]
pub struct EventGridSettings {
    /// `https://<topic>.<region>-1.eventgrid.azure.net/api/events` (the api-version is added).
    pub endpoint: String,
    pub schema: Schema,
    pub auth: TopicAuth,
}

/// The event publisher port on Event Grid.
pub struct EventGridPublisher {
    http: reqwest::Client,
    settings: EventGridSettings,
}

impl EventGridPublisher {
    pub fn new(settings: EventGridSettings) -> Result<Self, PublishError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| PublishError::Unavailable(e.into()))?;
        Ok(Self { http, settings })
    }

    fn url(&self) -> String {
        let separator = if self.settings.endpoint.contains('?') { '&' } else { '?' };
        format!("{}{separator}api-version=2018-01-01", self.settings.endpoint)
    }

    fn content_type(&self) -> &'static str {
        match self.settings.schema {
            Schema::CloudEvents => "application/cloudevents-batch+json; charset=utf-8",
            Schema::EventGrid => "application/json",
        }
    }

    async fn post(&self, body: &[u8]) -> Result<reqwest::Response, String> {
        let request = self.http.post(self.url()).header("content-type", self.content_type()).body(body.to_vec());
        let request = match &self.settings.auth {
            TopicAuth::Key(key) => request.header("aeg-sas-key", key.secret()),
            TopicAuth::Entra(credential) => {
                let token = credential.get_token(&[TOKEN_SCOPE], None).await.map_err(|e| format!("token: {e}"))?;
                request.bearer_auth(token.token.secret())
            }
        };
        request.send().await.map_err(|e| e.without_url().to_string())
    }

    /// Sends one batch, retrying throttling, server errors and timeouts with exponential backoff and jitter.
    #[tracing::instrument(name = "Event Grid send", skip_all, fields(otel.kind = "client", messaging.system = "eventgrid"))]
    async fn send(&self, body: &[u8]) -> Result<(), PublishError> {
        let mut last = String::new();
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                let base = 200u64 << attempt;
                let jitter = rand::rng().random_range(0..base);
                tokio::time::sleep(Duration::from_millis(base + jitter)).await;
            }
            match self.post(body).await {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) => {
                    let status = response.status();
                    last = format!("Event Grid answered {status}");
                    let retryable = status.as_u16() == 429 || status.is_server_error() || status.as_u16() == 408;
                    if !retryable {
                        return Err(PublishError::Rejected(last.into()));
                    }
                }
                Err(error) => last = error,
            }
        }
        Err(PublishError::Unavailable(last.into()))
    }
}

/// Splits encoded events into JSON arrays of at most `MAX_BATCH_BYTES` each.
pub fn batches(events: &[Value]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut size = 2;
    for event in events {
        let text = event.to_string();
        if !current.is_empty() && size + text.len() + 1 > MAX_BATCH_BYTES {
            out.push(format!("[{}]", current.join(",")).into_bytes());
            current.clear();
            size = 2;
        }
        size += text.len() + 1;
        current.push(text);
    }
    if !current.is_empty() {
        out.push(format!("[{}]", current.join(",")).into_bytes());
    }
    out
}

#[async_trait]
impl EventPublisher for EventGridPublisher {
    async fn publish(&self, events: &[Event]) -> Result<(), PublishError> {
        let encoded: Vec<Value> = events.iter().map(|e| event_json::encode(e, self.settings.schema)).collect();
        for batch in batches(&encoded) {
            self.send(&batch).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_stay_under_the_limit_and_keep_every_event() {
        let big = serde_json::json!({"data": "x".repeat(300 * 1024)});
        let events = vec![big.clone(), big.clone(), big.clone(), big];
        let batches = batches(&events);
        assert!(batches.iter().all(|b| b.len() <= MAX_BATCH_BYTES));
        let total: usize = batches.iter().map(|b| serde_json::from_slice::<Vec<Value>>(b).unwrap().len()).sum();
        assert_eq!(total, 4);
    }
}
