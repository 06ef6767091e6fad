//! Storage quotas and the guarded blob link (see [`crate::quotas`]). SQLite's single writer runs every write
//! transaction alone, so a guard reading usage inside the link's transaction sees every earlier link and no
//! concurrent one.

use async_trait::async_trait;
use berth_oci::{Digest, RepositoryName};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use super::codec::{from_db, to_db};
use super::repositories::link_in;
use super::{REPOSITORY_EXISTS, SqliteMeta};
use crate::quotas::{LinkAttempt, LinkGuard, Quota, QuotaStore, QuotaUsage};
use crate::{MetaError, Result};

/// SQL predicate "quota `q` covers repository name `{name}`": the name itself, or a namespace (`.../`) it
/// lies under.
fn covers(name: &str) -> String {
    format!(
        "({name} = q.prefix OR (substr(q.prefix, length(q.prefix)) = '/' \
         AND substr({name}, 1, length(q.prefix)) = q.prefix))"
    )
}

/// Quotas with their usage; `filter` restricts the quotas (`q`).
fn usage_sql(filter: &str) -> String {
    let covered = covers("r.name");
    format!(
        "SELECT q.prefix, q.limit_bytes, q.updated_at, \
         COALESCE((SELECT SUM(b.size) FROM repositories r JOIN repository_blobs rb ON rb.repository_id = r.id \
             JOIN blobs b ON b.digest = rb.digest WHERE {covered}), 0) AS used_bytes, \
         (SELECT COUNT(*) FROM repositories r WHERE {covered} AND {REPOSITORY_EXISTS}) AS repositories \
         FROM quotas q WHERE {filter} ORDER BY q.prefix"
    )
}

fn quota_usage(row: &SqliteRow) -> Result<QuotaUsage> {
    Ok(QuotaUsage {
        quota: Quota {
            prefix: row.try_get("prefix")?,
            limit_bytes: from_db("quotas.limit_bytes", row.try_get("limit_bytes")?)?,
            updated_at: row.try_get("updated_at")?,
        },
        used_bytes: from_db("used_bytes", row.try_get("used_bytes")?)?,
        repositories: from_db("repositories", row.try_get("repositories")?)?,
    })
}

async fn covering(conn: &mut SqliteConnection, repo: &RepositoryName) -> Result<Vec<QuotaUsage>> {
    let rows = sqlx::query(&usage_sql(&covers("?1"))).bind(repo.as_str()).fetch_all(conn).await?;
    rows.iter().map(quota_usage).collect()
}

#[async_trait]
impl QuotaStore for SqliteMeta {
    async fn put_quota(&self, prefix: &str, limit_bytes: u64, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO quotas (prefix, limit_bytes, updated_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (prefix) DO UPDATE SET limit_bytes = excluded.limit_bytes, updated_at = excluded.updated_at",
        )
        .bind(prefix)
        .bind(to_db("quota limit", limit_bytes)?)
        .bind(now)
        .execute(&self.writer)
        .await?;
        self.durable().await
    }

    async fn delete_quota(&self, prefix: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM quotas WHERE prefix = ?1").bind(prefix).execute(&self.writer).await?;
        self.durable().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_quotas(&self) -> Result<Vec<QuotaUsage>> {
        let rows = sqlx::query(&usage_sql("1 = 1")).fetch_all(&self.reader).await?;
        rows.iter().map(quota_usage).collect()
    }

    async fn quotas_covering(&self, repo: &RepositoryName) -> Result<Vec<QuotaUsage>> {
        let mut conn = self.reader.acquire().await?;
        covering(&mut conn, repo).await
    }

    async fn link_blob_guarded(
        &self,
        repo: &RepositoryName,
        digest: &Digest,
        size: u64,
        now: i64,
        guard: &dyn LinkGuard,
    ) -> Result<()> {
        let mut tx = self.write_tx().await?;
        check_link(&mut tx, repo, digest, size, guard).await?;
        link_in(&mut tx, repo, digest, size, now).await?;
        tx.commit().await?;
        self.durable().await
    }
}

/// Runs `guard` on linking `digest` to `repo` inside the caller's write transaction (which SQLite's single
/// writer runs alone): `Refused` when it says no, and the caller's transaction is dropped unwritten.
pub(super) async fn check_link(
    conn: &mut SqliteConnection,
    repo: &RepositoryName,
    digest: &Digest,
    size: u64,
    guard: &dyn LinkGuard,
) -> Result<()> {
    let quotas = covering(&mut *conn, repo).await?;
    let already_linked: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id \
         WHERE r.name = ?1 AND rb.digest = ?2)",
    )
    .bind(repo.as_str())
    .bind(digest.to_string())
    .fetch_one(&mut *conn)
    .await?;
    let attempt = LinkAttempt { repository: repo, digest, size, already_linked, quotas: &quotas };
    guard.check(&attempt).map_err(MetaError::Refused)
}
