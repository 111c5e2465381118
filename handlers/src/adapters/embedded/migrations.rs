//! Bringing an embedded database file written by an older pieshop up to the current schema, before the
//! schema's own (idempotent) DDL runs. Each file's steps live beside its schema; the mechanism is here.

use rusqlite::Connection;

use super::sqlite::DbError;

/// The schema versions of one kind of file, and the steps between them.
pub struct Migrations {
    /// The file's name, for the log and errors (`write.db`).
    pub file: &'static str,
    /// A table every version has: a file holding it with `user_version` 0 predates versioning.
    pub table: &'static str,
    /// The version such an unversioned file is.
    pub unversioned: i64,
    /// `steps[i]` takes version `unversioned + i` to the next and sets `user_version` to it.
    pub steps: &'static [&'static str],
}

impl Migrations {
    /// The version the last step produces, which the file's schema also declares.
    pub fn current(&self) -> i64 {
        self.unversioned + self.steps.len() as i64
    }

    /// Runs every step from the file's version on, all in one transaction (a new file needs none). A file
    /// from a newer pieshop is refused, not touched.
    pub fn run(&self, conn: &mut Connection) -> Result<(), DbError> {
        let stored: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let has_table: bool = conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [self.table],
            |r| r.get(0),
        )?;
        let version = match stored {
            0 if has_table => self.unversioned,
            0 => return Ok(()),
            stored => stored,
        };
        let current = self.current();
        if version == current {
            return Ok(());
        }
        if !(self.unversioned..current).contains(&version) {
            return Err(DbError::Task(format!(
                "{} has schema version {version}, which this pieshop (version {current}) cannot read",
                self.file
            )));
        }
        let tx = conn.transaction()?;
        for step in &self.steps[(version - self.unversioned) as usize..] {
            tx.execute_batch(step)?;
        }
        tx.commit()?;
        tracing::info!(file = self.file, from = version, to = current, "migrated to the current schema version");
        Ok(())
    }
}
