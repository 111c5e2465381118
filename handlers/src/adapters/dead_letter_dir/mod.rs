//! The dead-letter port on a directory laid out like the container (`<SUBSCRIPTION>/<YYYY>/<M>/<D>/<H>/<guid>.json`):
//! a container copied down with `az storage blob download-batch`, or what funchost's Event Grid stand-in writes.
//! Moving aside is a rename within the directory, so a blob is never in neither place.

use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::ports::dead_letters::{Aside, DeadLetterError, DeadLetters, is_aside};

/// A directory of dead-letter blobs. Operator use only, a few files at a time, so plain blocking file calls.
pub struct DeadLetterDirectory {
    root: PathBuf,
}

impl DeadLetterDirectory {
    /// The directory must exist: a typo should not look like an empty dead-letter container.
    pub fn open(root: &Path) -> Result<Self, DeadLetterError> {
        if !root.is_dir() {
            return Err(DeadLetterError::Unavailable(format!("{} is not a directory", root.display()).into()));
        }
        Ok(Self { root: root.to_path_buf() })
    }

    /// The file of a blob name, refusing names that would leave the directory.
    fn path(&self, name: &str) -> Result<PathBuf, DeadLetterError> {
        let mut path = self.root.clone();
        for segment in name.split('/') {
            if segment.is_empty() || segment == "." || segment == ".." || segment.contains('\\') {
                return Err(DeadLetterError::NotFound(name.to_owned()));
            }
            path.push(segment);
        }
        Ok(path)
    }
}

fn unavailable(path: &Path, error: std::io::Error) -> DeadLetterError {
    if error.kind() == std::io::ErrorKind::NotFound {
        return DeadLetterError::NotFound(path.display().to_string());
    }
    DeadLetterError::Unavailable(format!("{}: {error}", path.display()).into())
}

/// Every `.json` file under `dir`, as `/`-separated names relative to `root`.
fn walk(root: &Path, dir: &Path, names: &mut Vec<String>) -> Result<(), DeadLetterError> {
    for entry in std::fs::read_dir(dir).map_err(|e| unavailable(dir, e))? {
        let entry = entry.map_err(|e| unavailable(dir, e))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| unavailable(&path, e))?;
        if kind.is_dir() {
            walk(root, &path, names)?;
        } else if kind.is_file() && path.extension().is_some_and(|e| e == "json") {
            let Ok(relative) = path.strip_prefix(root) else { continue };
            let segments: Option<Vec<&str>> = relative.iter().map(|s| s.to_str()).collect();
            // A name that is not UTF-8 was not written by Event Grid; leave it alone.
            if let Some(segments) = segments {
                names.push(segments.join("/"));
            }
        }
    }
    Ok(())
}

#[async_trait]
impl DeadLetters for DeadLetterDirectory {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    async fn list(&self) -> Result<Vec<String>, DeadLetterError> {
        let mut names = Vec::new();
        walk(&self.root, &self.root, &mut names)?;
        names.retain(|name| !is_aside(name));
        names.sort();
        Ok(names)
    }

    async fn read(&self, name: &str) -> Result<Vec<u8>, DeadLetterError> {
        let path = self.path(name)?;
        std::fs::read(&path).map_err(|e| unavailable(&path, e))
    }

    async fn move_aside(&self, name: &str, to: Aside) -> Result<String, DeadLetterError> {
        let from = self.path(name)?;
        let moved = format!("{}/{name}", to.prefix());
        let target = self.path(&moved)?;
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| unavailable(parent, e))?;
        }
        std::fs::rename(&from, &target).map_err(|e| unavailable(&from, e))?;
        Ok(moved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn names_cannot_leave_the_directory_and_partial_writes_are_not_listed() {
        let dir = tempfile::tempdir().unwrap();
        let hour = dir.path().join("PROJECTION/2026/11/29/5");
        std::fs::create_dir_all(&hour).unwrap();
        std::fs::write(hour.join("a.json"), b"[]").unwrap();
        std::fs::write(hour.join("b.partial"), b"[").unwrap();
        let source = DeadLetterDirectory::open(dir.path()).unwrap();

        assert_eq!(source.list().await.unwrap(), ["PROJECTION/2026/11/29/5/a.json"]);
        for name in ["../outside.json", "PROJECTION/../../x.json", "/etc/passwd", "a//b.json"] {
            assert!(matches!(source.read(name).await, Err(DeadLetterError::NotFound(_))), "{name}");
        }
        let moved = source.move_aside("PROJECTION/2026/11/29/5/a.json", Aside::Replayed).await.unwrap();
        assert_eq!(moved, "replayed/PROJECTION/2026/11/29/5/a.json");
        assert!(source.list().await.unwrap().is_empty());
        assert_eq!(source.read(&moved).await.unwrap(), b"[]");
    }
}
