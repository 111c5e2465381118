//! One SQLite database file with a writer connection and a reader connection, used from async code.
//!
//! Calls run on tokio's blocking pool: SQLite is synchronous, and holding a connection across an `.await`
//! would block the runtime. WAL lets the reader run beside the writer.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::Connection;

/// Why a database call failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database task failed: {0}")]
    Task(String),
}

/// A database file opened for concurrent use.
#[derive(Clone)]
pub struct Db {
    writer: Arc<Mutex<Connection>>,
    reader: Arc<Mutex<Connection>>,
}

impl Db {
    /// Opens (creating if needed) the file and applies `schema` (idempotent DDL).
    pub fn open(path: &Path, schema: &str) -> Result<Self, DbError> {
        let writer = connect(path)?;
        writer.execute_batch(schema)?;
        let reader = connect(path)?;
        Ok(Self { writer: Arc::new(Mutex::new(writer)), reader: Arc::new(Mutex::new(reader)) })
    }

    /// Runs `f` on the writer connection.
    pub async fn write<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, DbError> + Send + 'static,
    {
        run(self.writer.clone(), f).await
    }

    /// Runs `f` on the reader connection (it must not write).
    pub async fn read<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, DbError> + Send + 'static,
    {
        run(self.reader.clone(), f).await
    }
}

/// WAL with `synchronous=NORMAL`: a commit survives a killed process (the WAL is written before the commit
/// returns); only an operating-system crash can lose the last commits. That is the durability pieshop uses.
fn connect(path: &Path) -> Result<Connection, DbError> {
    let conn = Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;",
    )?;
    Ok(conn)
}

async fn run<T, F>(conn: Arc<Mutex<Connection>>, f: F) -> Result<T, DbError>
where
    T: Send + 'static,
    F: FnOnce(&mut Connection) -> Result<T, DbError> + Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        let mut guard = lock(&conn);
        f(&mut guard)
    })
    .await
    .map_err(|e| DbError::Task(e.to_string()))?
}

/// A panic while holding the lock leaves SQLite itself consistent (the transaction rolls back on drop),
/// so a poisoned mutex is safe to take over.
fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
