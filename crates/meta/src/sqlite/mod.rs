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
//! # Durability
//!
//! The writer uses `synchronous = FULL`: in WAL mode that fsyncs the log at every commit, so a transaction
//! is on disk before `put_manifest` (and therefore the push) is acknowledged. With `NORMAL` a commit is only
//! guaranteed to survive a process crash, not an OS crash or power loss — an acknowledged push could vanish,
//! leaving clients with a digest the registry no longer knows.

mod codec;
mod manifests;
mod repositories;
mod uploads;
mod usage;

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqliteConnection, Transaction};

use crate::Result;

/// How long a connection waits for a lock held by another connection (or process) before `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Read-only connections. Reads are short; a handful covers a 2–8 core machine.
const READ_CONNECTIONS: u32 = 8;
/// How long a request may queue for the single writer connection. Generous: queueing is the design, and
/// a timeout here fails a push.
const WRITER_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(60);

/// The SQLite metadata store. Cheap to clone (the pools are shared).
#[derive(Debug, Clone)]
pub struct SqliteMeta {
    /// Exactly one connection: every write goes through it.
    writer: SqlitePool,
    /// Read-only connections.
    reader: SqlitePool,
}

impl SqliteMeta {
    /// Opens (creating it if missing) the database at `path` and applies pending migrations.
    pub async fn open(path: &Path) -> Result<SqliteMeta> {
        let base = SqliteConnectOptions::new().filename(path).busy_timeout(BUSY_TIMEOUT).foreign_keys(true);

        let writer_options = base
            .clone()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(WRITER_ACQUIRE_TIMEOUT)
            // The one connection is kept forever: reopening it would only cost time.
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(writer_options)
            .await?;
        sqlx::migrate!("./migrations").run(&writer).await?;

        // Opened after the writer so that the file exists, is in WAL mode and has its schema. WAL mode is
        // persistent in the file, so readers need not (and, read-only, cannot) set it.
        let reader =
            SqlitePoolOptions::new().max_connections(READ_CONNECTIONS).connect_with(base.read_only(true)).await?;

        tracing::debug!(path = %path.display(), "opened SQLite metadata store");
        Ok(SqliteMeta { writer, reader })
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

/// SQL predicate "repository `r` exists": it has a blob link or a manifest. A bare row (left behind when
/// everything in it was deleted, kept for its usage counters) does not count.
const REPOSITORY_EXISTS: &str = "(EXISTS (SELECT 1 FROM repository_blobs b WHERE b.repository_id = r.id) \
     OR EXISTS (SELECT 1 FROM manifests m WHERE m.repository_id = r.id))";

#[cfg(test)]
mod tests;
