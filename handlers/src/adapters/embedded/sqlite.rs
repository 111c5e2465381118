//! One SQLite database file used from async code: a writer thread doing group commit, and a reader connection.
//!
//! Writes are queued to one thread that owns the writer connection. It takes every write waiting in the
//! queue, runs each in its own savepoint inside one transaction, commits once, and only then answers each
//! caller: under load many commands share one commit and one thread wake-up, instead of one commit and two
//! thread hand-offs each. A write that fails rolls back its own savepoint and nothing else.
//!
//! Reads run on the calling task when the reader connection is free (they take microseconds; a hand-off to
//! another thread costs more), and on tokio's blocking pool when it is busy.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, mpsc};

use rusqlite::Connection;
use tokio::sync::oneshot;

/// Most writes one transaction carries.
const MAX_GROUP: usize = 512;

/// Why a database call failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database task failed: {0}")]
    Task(String),
}

/// Reports a write's outcome once its transaction's fate is known.
type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;

/// A queued write.
enum Job {
    /// Runs in a savepoint of the shared transaction.
    Grouped(Box<dyn FnOnce(&mut Connection) -> Completion + Send>),
    /// Runs outside any transaction (it manages its own, e.g. ATTACH), after the current group.
    Alone(Box<dyn FnOnce(&mut Connection) + Send>),
}

/// A database file opened for concurrent use.
#[derive(Clone)]
pub struct Db {
    writer: mpsc::Sender<Job>,
    reader: Arc<Mutex<Connection>>,
}

impl Db {
    /// Opens (creating if needed) the file, applies `schema` (idempotent DDL) and starts the writer thread.
    pub fn open(path: &Path, schema: &str) -> Result<Self, DbError> {
        let writer = connect(path)?;
        writer.execute_batch(schema)?;
        let reader = connect(path)?;
        let (queue, jobs) = mpsc::channel();
        std::thread::Builder::new()
            .name(format!("sqlite-writer-{}", path.file_name().and_then(|n| n.to_str()).unwrap_or("db")))
            .spawn(move || write_loop(writer, jobs))
            .map_err(|e| DbError::Task(e.to_string()))?;
        Ok(Self { writer: queue, reader: Arc::new(Mutex::new(reader)) })
    }

    /// Runs `f` on the writer connection inside a savepoint it must commit (`conn.savepoint()`, then
    /// `.commit()`); answers once the group's transaction has committed.
    pub async fn write<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, DbError> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let job = Job::Grouped(Box::new(move |conn| {
            let result = f(conn);
            Box::new(move |committed: Result<(), String>| {
                let _ = answer.send(match (result, committed) {
                    (Err(error), _) => Err(error),
                    (Ok(_), Err(error)) => Err(DbError::Task(format!("commit failed: {error}"))),
                    (Ok(value), Ok(())) => Ok(value),
                });
            })
        }));
        self.writer.send(job).map_err(|_| DbError::Task("the writer thread has stopped".into()))?;
        answered.await.map_err(|_| DbError::Task("the writer thread dropped a write".into()))?
    }

    /// Runs `f` on the writer connection with no transaction open (for statements SQLite refuses inside one).
    pub async fn write_alone<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, DbError> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let job = Job::Alone(Box::new(move |conn| {
            let _ = answer.send(f(conn));
        }));
        self.writer.send(job).map_err(|_| DbError::Task("the writer thread has stopped".into()))?;
        answered.await.map_err(|_| DbError::Task("the writer thread dropped a write".into()))?
    }

    /// Runs `f` on the reader connection (it must not write).
    pub async fn read<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, DbError> + Send + 'static,
    {
        if let Ok(mut conn) = self.reader.try_lock() {
            return f(&mut conn);
        }
        let reader = self.reader.clone();
        tokio::task::spawn_blocking(move || f(&mut lock(&reader)))
            .await
            .map_err(|e| DbError::Task(e.to_string()))?
    }
}

/// The writer thread: group every waiting write into one transaction, commit, then answer them all.
fn write_loop(mut conn: Connection, jobs: mpsc::Receiver<Job>) {
    let mut carried: Option<Job> = None;
    loop {
        let first = match carried.take() {
            Some(job) => job,
            None => match jobs.recv() {
                Ok(job) => job,
                Err(_) => return, // every Db handle is gone
            },
        };
        let first = match first {
            Job::Alone(run) => {
                run(&mut conn);
                continue;
            }
            Job::Grouped(run) => run,
        };
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(Job::Grouped(run)) => group.push(run),
                Ok(alone) => {
                    carried = Some(alone);
                    break;
                }
                Err(_) => break,
            }
        }
        let began = conn.execute_batch("BEGIN IMMEDIATE").map_err(|e| e.to_string());
        let completions: Vec<Completion> = group.into_iter().map(|run| run(&mut conn)).collect();
        let committed = began.and_then(|()| conn.execute_batch("COMMIT").map_err(|e| e.to_string()));
        if committed.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        for complete in completions {
            complete(committed.clone());
        }
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

/// A panic while holding the lock leaves SQLite itself consistent (the transaction rolls back on drop),
/// so a poisoned mutex is safe to take over.
fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
