//! Timer triggers: each `timerTrigger` function invoked on its NCRONTAB schedule (six fields, seconds first) on
//! one instance at a time, as the host's singleton lock does; `runOnStartup` honoured. The admin API's
//! `POST /admin/functions/<name>` (master key) runs one now, as on the real host.
//! Source: `docs/protocol/functions-custom-handler.md` §7; https://learn.microsoft.com/azure/azure-functions/functions-bindings-timer
//! ("NCRONTAB expressions", "runOnStartup"); https://learn.microsoft.com/azure/azure-functions/functions-manually-run-non-http.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::Mutex;

use crate::instances::Instances;
use crate::invoke;

/// How long a timer invocation may run (the app's `functionTimeout`, 5 min).
const TIMEOUT: Duration = Duration::from_secs(300);

/// One timer function.
pub struct Timer {
    pub function: String,
    pub binding: String,
    schedule: cron::Schedule,
    last: Mutex<Option<String>>,
}

impl Timer {
    pub fn new(function: &str, binding: &str, schedule: &str) -> anyhow::Result<Self> {
        let parsed =
            cron::Schedule::from_str(schedule).with_context(|| format!("{function}: schedule {schedule:?}"))?;
        Ok(Self { function: function.into(), binding: binding.into(), schedule: parsed, last: Mutex::new(None) })
    }

    fn next(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.schedule.upcoming(chrono::Utc).next()
    }

    /// One invocation now, on the next ready instance; the handler's logs or why it failed.
    pub async fn run(&self, instances: &Instances, client: &reqwest::Client) -> Result<Vec<String>, String> {
        let mut last = self.last.lock().await; // one at a time, as the singleton lock allows
        let next = self.next().map(|n| n.to_rfc3339()).unwrap_or_default();
        let envelope = invoke::timer_envelope(&self.function, &self.binding, last.as_deref(), &next, false);
        let (instance, port) = instances.pick(None).await.ok_or("no instance is running")?;
        let result = invoke::invoke(client, port, &self.function, &envelope, TIMEOUT).await;
        *last = Some(chrono::Utc::now().to_rfc3339());
        match result {
            Ok(logs) => {
                tracing::info!(function = %self.function, instance, ?logs, "timer ran");
                Ok(logs)
            }
            Err(error) => {
                tracing::warn!(function = %self.function, instance, %error, "timer invocation failed");
                Err(error.to_string())
            }
        }
    }

    /// Runs on schedule forever (or every `period` when one is given, to compress time by hand).
    pub async fn run_forever(
        self: Arc<Self>,
        instances: Arc<Instances>,
        client: reqwest::Client,
        period: Option<Duration>,
        on_startup: bool,
    ) {
        if on_startup {
            let _ = self.run(&instances, &client).await;
        }
        loop {
            let wait = match (period, self.next()) {
                (Some(period), _) => period,
                (None, Some(next)) => (next - chrono::Utc::now()).to_std().unwrap_or_default(),
                (None, None) => return,
            };
            tokio::time::sleep(wait).await;
            let _ = self.run(&instances, &client).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relay_schedule_fires_every_minute_on_the_minute() {
        let timer = Timer::new("relay", "relayTimer", "0 */1 * * * *").unwrap();
        let next = timer.next().unwrap();
        use chrono::Timelike;
        assert_eq!(next.second(), 0);
        assert!(next - chrono::Utc::now() <= chrono::Duration::seconds(60));
        assert!(Timer::new("x", "t", "every minute").is_err());
    }
}
