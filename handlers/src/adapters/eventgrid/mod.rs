//! The Event Grid publisher: CloudEvents (or Event Grid schema) batches POSTed to a custom topic.

mod publisher;

pub use publisher::{EventGridPublisher, EventGridSettings, TopicAuth};
