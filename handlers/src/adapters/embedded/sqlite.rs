//! One SQLite database file used from async code: group commit by a leader task, a few reader connections,
//! and checkpoints on their own thread.
//!
//! Writes queue up; the first write to find no leader starts one, which yields once (so writes on their way
//! join), runs every queued write in its own savepoint inside one transaction, commits once, then answers each
//! caller. No write pays a hand-off to a writer thread, and one commit's WAL frames serve many commands. The
//! leader looks at the queue again after stepping down, so a job queued at any moment is picked up (the unit
//! test below fails when that second look is removed). Hand-rolled: no crate does group commit for rusqlite.
//! Reads run on the calling task on a free reader connection. Checkpoints run on their own thread, small and
//! often, so no commit waits for one. Measurements behind each choice: docs/PERFORMANCE.md.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError, mpsc};

use rusqlite::Connection;
use rusqlite::config::DbConfig;

use super::migrations::Migrations;
use crate::ports::{Cause, ReadModelError, StoreError};
use tokio::sync::oneshot;

/// Most writes one transaction carries.
const MAX_GROUP: usize = 512;
/// Reader connections per file: one per tokio worker on the machines this targets, and one spare.
const READERS: usize = 3;
/// Committed writes between two requests to the checkpoint thread.
const CHECKPOINT_EVERY: usize = 256;
/// WAL pages at which a commit checkpoints by itself, should the checkpoint thread fall far behind.
const BACKSTOP_CHECKPOINT_PAGES: u32 = 16_384;

/// Why a database call failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A row that cannot be read back as what was written (a bug or a manual edit).
    #[error("unreadable row: {0}")]
    Corrupt(#[source] Cause),
    #[error("database task failed: {0}")]
    Task(String),
}

impl DbError {
    /// Whether retrying cannot help: an unreadable row, or SQLite finding the file damaged.
    fn is_corrupt(&self) -> bool {
        use rusqlite::ErrorCode::{DatabaseCorrupt, NotADatabase};
        match self {
            DbError::Corrupt(_) => true,
            DbError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => matches!(e.code, DatabaseCorrupt | NotADatabase),
            _ => false,
        }
    }
}

/// A row that cannot be read back.
pub fn corrupt(error: impl Into<Cause>) -> DbError {
    DbError::Corrupt(error.into())
}

/// The write store's meaning of a database failure: corrupt data is `Corrupt`, anything else `Unavailable`.
impl From<DbError> for StoreError {
    fn from(error: DbError) -> Self {
        if error.is_corrupt() { StoreError::Corrupt(Box::new(error)) } else { StoreError::Unavailable(Box::new(error)) }
    }
}

/// The read model's meaning of a database failure, the same as the write store's.
impl From<DbError> for ReadModelError {
    fn from(error: DbError) -> Self {
        if error.is_corrupt() {
            ReadModelError::Corrupt(Box::new(error))
        } else {
            ReadModelError::Unavailable(Box::new(error))
        }
    }
}

/// Reports a write's outcome once its transaction's fate is known.
type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;

/// A queued write: runs in a savepoint of the shared transaction, and says how to answer its caller.
type Job = Box<dyn FnOnce(&mut Connection) -> Completion + Send>;

/// A database file opened for concurrent use.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    /// Writes waiting for a leader, in arrival order.
    queue: Mutex<Vec<Job>>,
    /// Whether a leader task is running (it clears this, then looks at the queue once more).
    leading: AtomicBool,
    /// Held by the leader while it runs a group, and by `write_alone`.
    writer: Mutex<Writer>,
    readers: Vec<Mutex<Connection>>,
}

struct Writer {
    conn: Connection,
    since_checkpoint: usize,
    checkpoints: mpsc::SyncSender<()>,
}

impl Db {
    /// Opens (creating if needed) the file, applies `schema` (idempotent DDL) and starts the checkpoint thread.
    pub fn open(path: &Path, schema: &str) -> Result<Self, DbError> {
        Self::open_with(path, None, schema)
    }

    /// Like `open`, first bringing a file of an older version up to date with `migrations`.
    pub fn open_migrated(path: &Path, migrations: &Migrations, schema: &str) -> Result<Self, DbError> {
        Self::open_with(path, Some(migrations), schema)
    }

    fn open_with(path: &Path, migrations: Option<&Migrations>, schema: &str) -> Result<Self, DbError> {
        let mut conn = connect(path)?;
        if let Some(migrations) = migrations {
            migrations.run(&mut conn)?;
        }
        conn.execute_batch(schema)?;
        if let Some(migrations) = migrations {
            conn.pragma_update(None, "user_version", migrations.current())?;
        }
        conn.pragma_update(None, "wal_autocheckpoint", BACKSTOP_CHECKPOINT_PAGES)?;
        let readers = (0..READERS).map(|_| connect(path).map(Mutex::new)).collect::<Result<_, _>>()?;
        let checkpointer = connect(path)?;
        let (checkpoints, requests) = mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name(format!("sqlite-checkpoint-{}", path.file_name().and_then(|n| n.to_str()).unwrap_or("db")))
            .spawn(move || checkpoint_loop(checkpointer, requests))
            .map_err(|e| DbError::Task(e.to_string()))?;
        let writer = Writer { conn, since_checkpoint: 0, checkpoints };
        let leading = AtomicBool::new(false);
        Ok(Self { inner: Arc::new(Inner { queue: Mutex::default(), leading, writer: Mutex::new(writer), readers }) })
    }

    /// Runs `f` on the writer connection inside a savepoint it must commit (`Savepoint::begin(conn)`, then
    /// `.commit()`); answers once the group's transaction has committed.
    pub async fn write<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, DbError> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = f(conn);
            Box::new(move |committed: Result<(), String>| {
                let _ = answer.send(match (result, committed) {
                    (Err(error), _) => Err(error),
                    (Ok(_), Err(error)) => Err(DbError::Task(format!("commit failed: {error}"))),
                    (Ok(value), Ok(())) => Ok(value),
                });
            })
        });
        lock(&self.inner.queue).push(job);
        self.inner.ensure_leader();
        answered.await.map_err(|_| DbError::Task("a write was dropped unanswered".into()))?
    }

    /// Runs `f` on the writer connection with no transaction open (for statements SQLite refuses inside one),
    /// waiting on the blocking pool for any group in progress.
    pub async fn write_alone<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, DbError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&mut inner.writer().conn))
            .await
            .map_err(|e| DbError::Task(e.to_string()))?
    }

    /// Runs `f` on a reader connection (it must not write).
    pub async fn read<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, DbError> + Send + 'static,
    {
        for reader in &self.inner.readers {
            match reader.try_lock() {
                Ok(mut conn) => return f(&mut conn),
                Err(TryLockError::Poisoned(poisoned)) => return f(&mut poisoned.into_inner()),
                Err(TryLockError::WouldBlock) => continue,
            }
        }
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&mut lock(&inner.readers[0])))
            .await
            .map_err(|e| DbError::Task(e.to_string()))?
    }
}

impl Inner {
    /// Makes sure the queued writes have a leader: starts one unless one is running.
    fn ensure_leader(self: &Arc<Self>) {
        if self.leading.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            tokio::spawn(self.clone().lead());
        }
    }

    /// The leader task: first gives every task already runnable a turn (one yield to the scheduler), so
    /// writes on their way join the group, then commits queued writes in groups until the queue is empty.
    async fn lead(self: Arc<Self>) {
        loop {
            tokio::task::yield_now().await;
            let group = {
                let mut queue = lock(&self.queue);
                let take = queue.len().min(MAX_GROUP);
                queue.drain(..take).collect::<Vec<Job>>()
            };
            if !group.is_empty() {
                self.writer().commit_group(group);
            }
            self.leading.store(false, Ordering::Release);
            // A write queued after the drain saw a leader running and counts on this look.
            if lock(&self.queue).is_empty()
                || self.leading.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).is_err()
            {
                return;
            }
        }
    }

    /// The writer connection (only `write_alone` competes for it).
    fn writer(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|poisoned| {
            // A write panicked mid-group: its group's callers were told (their answers dropped); end the
            // transaction it left open.
            self.writer.clear_poison();
            let writer = poisoned.into_inner();
            let _ = writer.conn.execute_batch("ROLLBACK");
            writer
        })
    }
}

impl Writer {
    /// Runs every job in one transaction, commits once, then answers them all.
    fn commit_group(&mut self, group: Vec<Job>) {
        let writes = group.len();
        let conn = &mut self.conn;
        let began = run_cached(conn, "BEGIN IMMEDIATE").map_err(|e| e.to_string());
        let completions: Vec<Completion> = group.into_iter().map(|run| run(conn)).collect();
        let committed = began.and_then(|()| run_cached(conn, "COMMIT").map_err(|e| e.to_string()));
        if committed.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        for complete in completions {
            complete(committed.clone());
        }
        self.since_checkpoint += writes;
        if self.since_checkpoint >= CHECKPOINT_EVERY {
            self.since_checkpoint = 0;
            let _ = self.checkpoints.try_send(()); // full: a checkpoint is already due
        }
    }
}

/// Runs a statement without parameters from the connection's statement cache (not parsed again per group).
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

/// One write's savepoint inside its group's transaction: `commit` keeps the write's changes, dropping it
/// uncommitted rolls back those changes alone. Like rusqlite's `Savepoint`, but its three statements come from
/// the statement cache (rusqlite's are parsed on every write: 2.8% of a command-load profile).
pub struct Savepoint<'c> {
    conn: &'c Connection,
    committed: bool,
}

impl<'c> Savepoint<'c> {
    pub fn begin(conn: &'c Connection) -> Result<Self, DbError> {
        run_cached(conn, "SAVEPOINT write")?;
        Ok(Self { conn, committed: false })
    }

    pub fn commit(mut self) -> Result<(), DbError> {
        run_cached(self.conn, "RELEASE write")?;
        self.committed = true;
        Ok(())
    }
}

impl std::ops::Deref for Savepoint<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

impl Drop for Savepoint<'_> {
    fn drop(&mut self) {
        if !self.committed {
            // They fail only when the savepoint is gone already, and with it the changes to undo (rusqlite's
            // `Savepoint` ignores these errors on drop for the same reason).
            let _ = run_cached(self.conn, "ROLLBACK TO write");
            let _ = run_cached(self.conn, "RELEASE write");
        }
    }
}

/// The checkpoint thread: a passive checkpoint (never blocks readers or the writer) whenever asked.
fn checkpoint_loop(conn: Connection, requests: mpsc::Receiver<()>) {
    while requests.recv().is_ok() {
        if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(%error, "WAL checkpoint failed; the next one will retry");
        }
    }
}

/// WAL with `synchronous=NORMAL`: a commit survives a killed process (the WAL is written before the commit
/// returns); only an operating-system crash can lose the last commits. That is the durability pieshop uses.
/// Statement journals and temporary tables stay in memory: as files they cost an open, writes and a delete
/// for many statements inside a savepoint.
///
/// The query planner's stability guarantee is on: without it, this build of SQLite (with `STAT4`) marks a
/// cached statement expired whenever a value is bound to a parameter the planner looked at, such as the `?` of
/// `LIMIT ?`, and parses it again on every run.
fn connect(path: &Path) -> Result<Connection, DbError> {
    let conn = Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;",
    )?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    Ok(conn)
}

/// A panic while holding the lock leaves SQLite itself consistent (the transaction rolls back on drop),
/// so a poisoned mutex is safe to take over.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures::future::join_all;

    use super::*;

    fn insert(n: i64, fail: bool) -> impl FnOnce(&mut Connection) -> Result<i64, DbError> + Send + 'static {
        move |conn| {
            let tx = Savepoint::begin(conn)?;
            tx.execute("INSERT INTO t (n) VALUES (?1)", [n])?;
            if fail {
                return Err(DbError::Task("refused by the test".into())); // the savepoint rolls back on drop
            }
            tx.commit()?;
            Ok(n)
        }
    }

    /// Many tasks writing at once: every write is answered (none is left queued without a leader) and
    /// committed, and a write that fails takes only its own changes with it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_writes_are_all_answered_and_a_failure_rolls_back_alone() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db"), "CREATE TABLE t (n INTEGER PRIMARY KEY);").unwrap();
        let writes = (0..3000).map(|n| {
            let db = db.clone();
            tokio::spawn(async move { db.write(insert(n, n % 100 == 7)).await })
        });
        let answers =
            tokio::time::timeout(Duration::from_secs(60), join_all(writes)).await.expect("a write was never answered");
        let failed = answers.into_iter().filter(|answer| answer.as_ref().unwrap().is_err()).count();
        assert_eq!(failed, 30);
        let rows: i64 = db
            .read(|conn| Ok(conn.query_row("SELECT count(*) FROM t WHERE n % 100 != 7", [], |r| r.get(0))?))
            .await
            .unwrap();
        let refused: i64 = db
            .read(|conn| Ok(conn.query_row("SELECT count(*) FROM t WHERE n % 100 = 7", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!((rows, refused), (2970, 0));
    }
}
