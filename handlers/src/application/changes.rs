//! Wakes queries that wait for the read model to change (`waitForChange`, `minVersion`).

use tokio::sync::watch;

/// A counter bumped whenever this process applies an event to the read model.
#[derive(Clone)]
pub struct Changes {
    sender: watch::Sender<u64>,
}

impl Default for Changes {
    fn default() -> Self {
        Self { sender: watch::channel(0).0 }
    }
}

impl Changes {
    pub fn notify(&self) {
        self.sender.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.sender.subscribe()
    }
}
