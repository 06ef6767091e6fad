//! The PostgreSQL backend: the same traits, tables and behaviour as the SQLite backend, for several berth
//! nodes sharing one database. Migrations are in `migrations-postgres/`, one per SQLite migration with the
//! same number.
//!
//! # Concurrency
//!
//! SQLite has one writer: every write transaction runs alone, so a rule checked inside one (a reference
//! exists, a tag is immutable, a cap is not reached) still holds at its commit. PostgreSQL runs writers
//! concurrently, in `READ COMMITTED`; each transaction that checks before it writes takes the lock that
//! makes its check hold until it commits:
//!
//! * **The repository row** is the lock of a repository's content. Writes that decide from the repository's
//!   state (storing a manifest, deleting one or a tag, untagging, creating, deleting or changing the
//!   repository) lock it `FOR NO KEY UPDATE` and so run one at a time per repository; blob links lock it
//!   `FOR SHARE` (links are idempotent and may run together, but not while a manifest push verifies its
//!   references, nor while a repository is created or deleted). Repositories do not wait for each other.
//! * **Rows a write refers to** (a manifest a scan result hangs off, a user or group a policy or membership
//!   names) are locked `FOR KEY SHARE`, so a concurrent delete waits for the write instead of leaving an
//!   orphan or failing on a foreign key.
//! * **Counts**: creating an upload session under caps takes a transaction-scoped advisory lock per
//!   repository name and per owner (repository first), so concurrent creations cannot overshoot. A guarded
//!   blob link locks every quota covering its repository (in prefix order) before reading their usage, so
//!   concurrent pushes under one quota are checked one after the other.
//! * **Orders**: the audit log and the journal's change feed are read as "everything after id N". Ids are
//!   drawn before commit, so without care a transaction could commit an id lower than one a reader has
//!   already gone past. Appends to the audit log are serialised by an advisory lock; writers to the feed
//!   hold a shared advisory lock that its reader takes exclusively (see migration 0011).
//! * **Job claims** pick the oldest claimable scan job with `FOR UPDATE SKIP LOCKED`: concurrent workers on
//!   any number of nodes take different jobs without waiting for each other.
//! * **Compare-and-set** (upload sessions) is one `UPDATE ... WHERE size = expected`: a concurrent update
//!   waits for the row, re-reads it and finds the size changed.
//!
//! A transaction PostgreSQL aborts as a deadlock or serialisation failure (possible when two transactions
//! lock rows of several manifests in different orders) is retried from the start, a few times.
//!
//! # Durability
//!
//! A commit PostgreSQL acknowledges is durable (with the server's default `synchronous_commit = on` and
//! `fsync = on`), so there is no group-commit barrier here: PostgreSQL does its own group commit. The
//! statistics the SQLite backend does not wait for are plain commits here too.

mod access_keys;
mod accounting;
mod archive;
mod audit;
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
mod webhooks;

use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection as _, PgConnection, Postgres, Transaction};

use crate::{MetaError, Result};

/// Connections to the server per berth node. Requests queue for one beyond that.
const MAX_CONNECTIONS: u32 = 16;
/// How long a request may wait for a connection (the pool is full, or the server is slow to accept one).
/// Short enough that while the server is down a request answers 503 (the pool keeps retrying to connect until
/// then) before a client or load balancer gives up on it, long enough for a busy pool to free a connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(8);
/// How long opening the store waits for the server to answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Attempts of a transaction PostgreSQL aborted as a deadlock or serialisation failure.
const ATTEMPTS: u32 = 5;

/// Advisory lock namespaces (the first key of `pg_advisory_xact_lock(int, int)`); berth owns the database.
const LOCK_SPACE: i32 = 1_650_815_604; // "bert"
/// Second keys in `LOCK_SPACE`. `JOURNAL` is also taken by the triggers of migration 0011.
const LOCK_JOURNAL: i32 = 1;
const LOCK_AUDIT: i32 = 2;
/// Namespaces of the upload caps' locks, keyed by `hashtext` of the repository name or owner.
const LOCK_UPLOADS_BY_REPOSITORY: i32 = LOCK_SPACE + 1;
const LOCK_UPLOADS_BY_OWNER: i32 = LOCK_SPACE + 2;
/// Namespace of the per-digest lock that serialises a blob commit's start with a review deleting the blob.
const LOCK_GC_DIGEST: i32 = LOCK_SPACE + 3;
/// Namespace of the quota locks, keyed by `hashtext` of the quota's prefix.
const LOCK_QUOTAS: i32 = LOCK_SPACE + 17;
/// Second key in `LOCK_SPACE` serialising pull time update exclusion registrations (their limit).
const LOCK_PULL_EXCLUSIONS: i32 = 19;

impl MetaError {
    /// Whether the database server could not be reached or went away mid-request (refused, reset, shutting
    /// down or restarting, no connection within the pool's timeout): the transaction did not commit, and the
    /// same request succeeds once the server answers again. The pool reconnects by itself.
    pub fn is_unavailable(&self) -> bool {
        match self {
            MetaError::Database(sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_)) => true,
            MetaError::Database(sqlx::Error::Database(e)) => e.code().is_some_and(|c| {
                // Class 08: connection exceptions; 57P01..57P03: admin/crash shutdown, cannot connect now.
                c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")
            }),
            _ => false,
        }
    }
}

/// The PostgreSQL metadata store. Cheap to clone (the pool is shared).
#[derive(Debug, Clone)]
pub struct PgMeta {
    pool: PgPool,
}

impl PgMeta {
    /// Connects to the database at `url` (`postgres://USER:PASS@HOST:PORT/DB`) and applies pending
    /// migrations. Several nodes may do this at once: migrations take an advisory lock.
    pub async fn connect(url: &str) -> Result<PgMeta> {
        let options = PgConnectOptions::from_str(url)?.application_name("berth");
        PgMeta::connect_with(options).await
    }

    pub async fn connect_with(options: PgConnectOptions) -> Result<PgMeta> {
        // One connection first, to fail fast with the server's own answer (refused, unknown database,
        // authentication failed) rather than the pool's timeout after retrying it.
        let first =
            tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options)).await.map_err(|_| {
                let message = format!("the PostgreSQL server did not answer within {CONNECT_TIMEOUT:?}");
                sqlx::Error::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, message))
            })??;
        first.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations-postgres").run(&pool).await?;
        tracing::debug!("opened PostgreSQL metadata store");
        Ok(PgMeta { pool })
    }

    /// The pool (for copying a whole store into this one, `transfer`).
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Starts a write transaction (`READ COMMITTED`; see the module docs for the locks writers take).
    async fn write_tx(&self) -> Result<Transaction<'static, Postgres>> {
        Ok(self.pool.begin().await?)
    }

    /// Starts a read-only transaction whose statements all see one snapshot.
    async fn snapshot_tx(&self) -> Result<Transaction<'static, Postgres>> {
        Ok(self.pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?)
    }

    /// Runs `attempt` (a whole transaction) again while PostgreSQL aborts it as a deadlock or serialisation
    /// failure, at most [`ATTEMPTS`] times, with a short growing pause.
    async fn retry<T, F, Fut>(&self, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut tries = 1;
        loop {
            match attempt().await {
                Err(e) if tries < ATTEMPTS && is_transient(&e) => {
                    tracing::debug!(error = %e, tries, "retrying a metadata transaction");
                    tokio::time::sleep(Duration::from_millis(5 << tries)).await;
                    tries += 1;
                }
                outcome => return outcome,
            }
        }
    }
}

/// Whether PostgreSQL aborted the transaction for a conflict with another one, so that running it again
/// may succeed: `40001` serialization_failure, `40P01` deadlock_detected.
fn is_transient(e: &MetaError) -> bool {
    match e {
        MetaError::Database(sqlx::Error::Database(e)) => matches!(e.code().as_deref(), Some("40001" | "40P01")),
        _ => false,
    }
}

/// How a transaction locks a repository row (see the module docs).
#[derive(Debug, Clone, Copy)]
enum Lock {
    /// Writes that decide from the repository's state.
    Exclusive,
    /// Blob links.
    Shared,
}

impl Lock {
    fn sql(self) -> &'static str {
        match self {
            Lock::Exclusive => "SELECT id FROM repositories WHERE name = $1 FOR NO KEY UPDATE",
            Lock::Shared => "SELECT id FROM repositories WHERE name = $1 FOR SHARE",
        }
    }
}

/// Id of repository `name`, creating the row if needed, locked as `lock` says until the transaction ends.
async fn ensure_repository(conn: &mut PgConnection, name: &str, now: i64, lock: Lock) -> Result<i64> {
    // Usually the row exists: one statement, and no identity value drawn for an insert that does nothing.
    if let Some(id) = lock_repository(&mut *conn, name, lock).await? {
        return Ok(id);
    }
    sqlx::query("INSERT INTO repositories (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    // A concurrent transaction that inserted the row first has committed by now (the insert waited for it),
    // and this statement's snapshot sees it.
    let id: i64 = sqlx::query_scalar(lock.sql()).bind(name).fetch_one(conn).await?;
    Ok(id)
}

/// Id of repository `name` if it has a row, locked as `lock` says until the transaction ends.
async fn lock_repository(conn: &mut PgConnection, name: &str, lock: Lock) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(lock.sql()).bind(name).fetch_optional(conn).await?)
}

/// SQL predicate "repository `r` exists": it has a blob link, a manifest, or a settings row (it was created
/// explicitly). A bare row (kept for usage counters, visibility, a policy) does not count.
const REPOSITORY_EXISTS: &str = "(EXISTS (SELECT 1 FROM repository_blobs b WHERE b.repository_id = r.id) \
     OR EXISTS (SELECT 1 FROM manifests m WHERE m.repository_id = r.id) \
     OR EXISTS (SELECT 1 FROM repository_settings s WHERE s.repository_id = r.id))";

#[cfg(test)]
mod tests;
