//! The SQLite backend: one file in WAL mode, one writer connection and a pool of read-only connections.
//!
//! # Why one writer
//!
//! SQLite allows one writer at a time. With several pooled connections that write, concurrent transactions
//! race for the write lock and the losers get `SQLITE_BUSY` (in WAL mode a deferred transaction that read
//! before writing cannot even wait for the lock: its snapshot is stale). Funnelling every write through a
//! pool of exactly one connection turns that race into an async queue in front of the connection, so
//! concurrent pushes never fail, they wait. Write transactions still start with `BEGIN IMMEDIATE` so that
//! another *process* on the same file (an admin command) is waited for via `busy_timeout` instead of
//! failing mid-transaction.
//!
//! Reads go to a separate pool of read-only connections: in WAL mode readers see the last committed state
//! and neither block nor are blocked by the writer.
//!
//! # Durability: group commit
//!
//! A write the trait acknowledges must survive power loss: a push acknowledged and then forgotten leaves
//! clients with a digest the registry no longer knows. Making each commit durable on its own
//! (`synchronous = FULL`: one WAL fsync per commit, with the writer held) caps the whole process at one
//! commit per fsync, ~200/s on a disk where fdatasync takes 5 ms, however many clients push at once.
//!
//! Instead the writer runs with `synchronous = NORMAL` (commits reach the OS but are not fsynced;
//! checkpoints still fsync the WAL and the database file in the right order), and every mutating method,
//! after its transaction committed and the writer connection was released, waits on a shared
//! [`Barrier`](barrier::Barrier) that fdatasyncs the WAL: one fsync covers every commit that finished before
//! it started, so concurrent writers share fsyncs while the writer connection goes on committing. Why this
//! is as durable as `FULL` is argued in [`wal_sync`]. Automatic checkpoints (`wal_autocheckpoint`) stay on:
//! they keep the WAL bounded, and the argument relies on their syncs.
//!
//! Mutating methods wait even when they changed nothing (`unlink_blob` of an unknown link, a lost
//! `update_upload` compare-and-set): what they report was decided by commits that may not be durable yet,
//! and waiting makes every commit before theirs durable.
//!
//! Exceptions: `record_pull`, `add_usage` and `touch_access_key` are statistics and do not wait. They may
//! be lost on power loss (never partially: SQLite recovers a consistent prefix of commits), and a later
//! durable write makes them durable too. Pulls and authentications thus never wait for an fsync.
//!
//! Readers can see a commit before it is durable (it is visible once it is in the WAL); only the writer's
//! caller is held back. A client that reads a manifest pushed concurrently by another client, in the
//! milliseconds before that push is acknowledged, may see it disappear on power loss.

mod access_keys;
mod accounting;
mod archive;
mod audit;
mod barrier;
mod catalog;
mod codec;
mod deleted;
mod exclusions;
mod gc;
mod groups;
mod image_signing;
mod jobs;
mod lifecycle;
mod manifests;
mod meter;
mod monitoring;
mod policies;
mod quotas;
mod ratelimits;
mod recovery;
mod repositories;
mod scans;
mod settings;
mod summaries;
mod templates;
mod tokens;
mod uploads;
mod usage;
mod users;
mod wal_sync;
mod webhooks;

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection as _, Sqlite, SqliteConnection, Transaction};

use self::barrier::Barrier;
use crate::{MetaError, Result};

/// How long a connection waits for a lock held by another connection (or process) before `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Read-only connections. Reads are short; a handful covers a 2–8 core machine.
const READ_CONNECTIONS: u32 = 8;
/// How long a request may queue for the single writer connection. Generous: queueing is the design, and
/// a timeout here fails a push.
const WRITER_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(60);
/// Pages of WAL after which a commit checkpoints (SQLite's default, set explicitly because durability relies
/// on checkpoints happening; see the module docs).
const WAL_AUTOCHECKPOINT_PAGES: u32 = 1000;

/// The SQLite metadata store. Cheap to clone (the pools are shared).
#[derive(Debug, Clone)]
pub struct SqliteMeta {
    /// Exactly one connection: every write goes through it.
    writer: SqlitePool,
    /// Read-only connections.
    reader: SqlitePool,
    /// Makes commits of the writer durable (group commit).
    barrier: Barrier,
}

impl SqliteMeta {
    /// Opens (creating it if missing) the database at `path` and applies pending migrations.
    pub async fn open(path: &Path) -> Result<SqliteMeta> {
        let base = SqliteConnectOptions::new().filename(path).busy_timeout(BUSY_TIMEOUT).foreign_keys(true);

        let writer_options = base
            .clone()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // Durability comes from the barrier's WAL fsync after commit (see the module docs).
            .synchronous(SqliteSynchronous::Normal)
            .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES.to_string());
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(WRITER_ACQUIRE_TIMEOUT)
            // The one connection is kept forever: reopening it would only cost time.
            .idle_timeout(None)
            .max_lifetime(None)
            // ... unless a failure left it inside a transaction (see `fit_for_reuse`).
            .after_release(|conn, _| Box::pin(fit_for_reuse(conn)))
            .connect_with(writer_options)
            .await?;
        sqlx::migrate!("./migrations").run(&writer).await?;
        let barrier = Barrier::new(wal_sync::wal_sync(&sqlite_path(&writer).await?));

        // Opened after the writer so that the file exists, is in WAL mode and has its schema. WAL mode is
        // persistent in the file, so readers need not (and, read-only, cannot) set it.
        let reader =
            SqlitePoolOptions::new().max_connections(READ_CONNECTIONS).connect_with(base.read_only(true)).await?;

        tracing::debug!(path = %path.display(), "opened SQLite metadata store");
        Ok(SqliteMeta { writer, reader, barrier })
    }

    /// The read-only pool (for copying the whole store elsewhere, `transfer`).
    pub(crate) fn reader_pool(&self) -> &SqlitePool {
        &self.reader
    }

    /// Closes both pools, waiting for connections in use to be returned. The last connection to close
    /// checkpoints the WAL into the main file.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    /// Starts a write transaction on the writer connection, taking the write lock up front.
    async fn write_tx(&self) -> Result<Transaction<'static, Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Returns once the caller's write, which just committed, is durable. Call it right after the commit
    /// returned and the writer connection was released (a committed `Transaction` or a finished statement on
    /// the writer pool releases it), never while holding the connection: other writers commit meanwhile and
    /// share the fsync.
    async fn durable(&self) -> Result<()> {
        let ticket = self.barrier.ticket();
        self.barrier.wait(ticket).await.map_err(|e| MetaError::Database(sqlx::Error::Io(e)))
    }
}

/// Whether the writer connection, just released, can serve the next write; `false` closes it and the pool opens
/// a fresh one.
///
/// A write that fails on an I/O error (`SQLITE_FULL` on a full disk, `SQLITE_IOERR`) can make SQLite roll the
/// transaction back on its own. sqlx does not notice: its count of open transactions stays at one, the
/// `ROLLBACK` it sends when the `Transaction` is dropped fails ("no transaction is active") and leaves the
/// count as it was, and every later `BEGIN` on the connection is refused ("attempted to call begin_with at
/// non-zero transaction depth"), for good. A connection in that state (or one whose rollback failed for
/// any other reason) is replaced instead; closing it rolls back whatever SQLite still holds open.
async fn fit_for_reuse(conn: &mut SqliteConnection) -> std::result::Result<bool, sqlx::Error> {
    // Commands run in order on the connection's worker thread: the ping completes after the rollback that
    // dropping a transaction queued, so the count below is the one that rollback left.
    conn.ping().await?;
    if conn.is_in_transaction() {
        tracing::warn!("a failed write left the metadata writer connection inside a transaction; reopening it");
        return Ok(false);
    }
    Ok(true)
}

/// The path SQLite resolved for the main database file (symbolic links followed), whose WAL is `<path>-wal`.
/// Checks that the WAL is there: the writer has the database open in WAL mode, so it must be, and syncing a
/// wrong path would silently give up durability.
async fn sqlite_path(writer: &SqlitePool) -> Result<PathBuf> {
    let file: String =
        sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'").fetch_one(writer).await?;
    let path = PathBuf::from(file);
    let wal = wal_sync::wal_path(&path);
    if !wal.is_file() {
        let message = format!("the WAL of {} is not at {}", path.display(), wal.display());
        return Err(MetaError::Database(sqlx::Error::Io(io::Error::new(io::ErrorKind::NotFound, message))));
    }
    Ok(path)
}

/// Id of repository `name`, creating the row if needed (inside a write transaction).
async fn ensure_repository(conn: &mut SqliteConnection, name: &str, now: i64) -> Result<i64> {
    sqlx::query("INSERT INTO repositories (name, created_at) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    let id: i64 = sqlx::query_scalar("SELECT id FROM repositories WHERE name = ?1").bind(name).fetch_one(conn).await?;
    Ok(id)
}

/// SQL predicate "repository `r` exists": it has a blob link, a manifest, or a settings row (it was created
/// explicitly). A bare row (left behind when everything in it was deleted, kept for its usage counters) does
/// not count.
const REPOSITORY_EXISTS: &str = "(EXISTS (SELECT 1 FROM repository_blobs b WHERE b.repository_id = r.id) \
     OR EXISTS (SELECT 1 FROM manifests m WHERE m.repository_id = r.id) \
     OR EXISTS (SELECT 1 FROM repository_settings s WHERE s.repository_id = r.id))";

#[cfg(test)]
mod fault_tests;
#[cfg(test)]
mod recovery_tests;
#[cfg(test)]
mod tests;

impl MetaError {
    /// Whether the store refused a write because its disk (or quota) is full: `SQLITE_FULL`, or an I/O error
    /// `ENOSPC`/`EDQUOT`. Not a bug, and over once space is freed.
    pub fn is_out_of_space(&self) -> bool {
        match self {
            MetaError::Database(sqlx::Error::Database(e)) => {
                // SQLITE_FULL (13) is what SQLite answers when a write() fails with ENOSPC.
                e.code().is_some_and(|c| c == "13") || e.message().contains("database or disk is full")
            }
            MetaError::Database(sqlx::Error::Io(e)) => io_out_of_space(e),
            _ => false,
        }
    }
}

fn io_out_of_space(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded)
}
