//! Where Event Grid left the events it could not deliver: a container of dead-letter blobs laid out as
//! `<SUBSCRIPTION>/<YYYY>/<M>/<D>/<H>/<guid>.json` (`docs/protocol/push-deadletter-auth.md` §B), in Azure Blob
//! storage or copied to a directory. The operator replays them (`application::deadletters`); a blob that was
//! read is moved aside under a prefix, never deleted, so nothing is lost even when a replay goes wrong.

use async_trait::async_trait;

use super::Cause;

/// Where a blob goes once it has been read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aside {
    /// Every event in it is now in the read model.
    Replayed,
    /// It holds something that is not a pieshop event: kept for a person to look at.
    Unreadable,
}

impl Aside {
    /// The prefix (top-level folder) the blob is moved under, keeping the rest of its path.
    pub fn prefix(self) -> &'static str {
        match self {
            Aside::Replayed => "replayed",
            Aside::Unreadable => "unreadable",
        }
    }

    /// Both prefixes: whatever is under them has been dealt with and is not listed again.
    pub const ALL: [Aside; 2] = [Aside::Replayed, Aside::Unreadable];
}

/// The dead-letter source failed.
#[derive(Debug, thiserror::Error)]
pub enum DeadLetterError {
    /// The source (directory or container) cannot be reached, read or written.
    #[error("dead-letter source unavailable: {0}")]
    Unavailable(#[source] Cause),
    /// The named blob is not there (another operator moved it, or the name is wrong).
    #[error("dead-letter blob {0} not found")]
    NotFound(String),
}

/// The dead-letter port: list the blobs waiting, read one, move one aside.
#[async_trait]
pub trait DeadLetters: Send + Sync {
    /// Where the blobs are, for reports (never with a secret in it).
    fn location(&self) -> String;
    /// The names (paths inside the container, `/`-separated) of every `.json` blob not yet moved aside, sorted.
    async fn list(&self) -> Result<Vec<String>, DeadLetterError>;
    /// The content of one blob.
    async fn read(&self, name: &str) -> Result<Vec<u8>, DeadLetterError>;
    /// Moves a blob to `<prefix>/<name>`: the copy is written before the original goes. Returns the new name.
    async fn move_aside(&self, name: &str, to: Aside) -> Result<String, DeadLetterError>;
}

/// Whether a name is under one of the prefixes blobs are moved aside to.
pub fn is_aside(name: &str) -> bool {
    Aside::ALL.iter().any(|aside| name.strip_prefix(aside.prefix()).is_some_and(|rest| rest.starts_with('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_under_an_aside_prefix_count_as_moved_aside() {
        assert!(is_aside("replayed/PROJECTION/2026/11/29/5/x.json"));
        assert!(is_aside("unreadable/PROJECTION/2026/11/29/5/x.json"));
        assert!(!is_aside("PROJECTION/2026/11/29/5/x.json"));
        assert!(!is_aside("replayed-not/PROJECTION/x.json"), "a subscription named like a prefix is still waiting");
        assert!(!is_aside("REPLAYED/2026/1/1/0/x.json"), "subscriptions are upper-cased, the prefixes are not");
    }
}
