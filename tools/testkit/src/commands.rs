//! Command bodies as a scanner sends them, each with a fresh `commandId`.

use serde_json::{Value, json};

/// A fresh command id.
pub fn id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn receive(location: &str, sku: &str, quantity: u64) -> Value {
    json!({"commandId": id(), "type": "receive", "location": location, "sku": sku, "quantity": quantity})
}

pub fn remove(location: &str, sku: &str, quantity: u64) -> Value {
    json!({"commandId": id(), "type": "remove", "location": location, "sku": sku, "quantity": quantity, "reason": "sold"})
}
