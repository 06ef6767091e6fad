//! Storage quotas and the guarded blob link (see [`crate::quotas`]). A guarded link takes a
//! transaction-scoped advisory lock on each quota covering its repository, in prefix order, before it reads
//! their usage: concurrent links under one quota run their checks one after the other, and each sees the
//! links committed before it (`READ COMMITTED` takes a fresh snapshot per statement).

use async_trait::async_trait;
use berth_oci::{Digest, RepositoryName};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use super::codec::{from_db, to_db};
use super::repositories::link_in;
use super::{LOCK_QUOTAS, PgMeta, REPOSITORY_EXISTS};
use crate::quotas::{LinkAttempt, LinkGuard, Quota, QuotaStore, QuotaUsage};
use crate::{MetaError, Result};

/// SQL predicate "quota `q` covers repository name `{name}`": the name itself, or a namespace (`.../`) it
/// lies under.
fn covers(name: &str) -> String {
    format!("({name} = q.prefix OR (right(q.prefix, 1) = '/' AND left({name}, length(q.prefix)) = q.prefix))")
}

/// Quotas with their usage; `filter` restricts the quotas (`q`).
fn usage_sql(filter: &str) -> String {
    let covered = covers("r.name");
    format!(
        "SELECT q.prefix, q.limit_bytes, q.updated_at, \
         COALESCE((SELECT SUM(b.size)::BIGINT FROM repositories r JOIN repository_blobs rb ON rb.repository_id = r.id \
             JOIN blobs b ON b.digest = rb.digest WHERE {covered}), 0) AS used_bytes, \
         (SELECT COUNT(*) FROM repositories r WHERE {covered} AND {REPOSITORY_EXISTS}) AS repositories \
         FROM quotas q WHERE {filter} ORDER BY q.prefix"
    )
}

fn quota_usage(row: &PgRow) -> Result<QuotaUsage> {
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

async fn covering(conn: &mut PgConnection, repo: &RepositoryName) -> Result<Vec<QuotaUsage>> {
    let rows = sqlx::query(&usage_sql(&covers("$1::TEXT"))).bind(repo.as_str()).fetch_all(conn).await?;
    rows.iter().map(quota_usage).collect()
}

#[async_trait]
impl QuotaStore for PgMeta {
    async fn put_quota(&self, prefix: &str, limit_bytes: u64, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO quotas (prefix, limit_bytes, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (prefix) DO UPDATE SET limit_bytes = excluded.limit_bytes, updated_at = excluded.updated_at",
        )
        .bind(prefix)
        .bind(to_db("quota limit", limit_bytes)?)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn delete_quota(&self, prefix: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM quotas WHERE prefix = $1").bind(prefix).execute(&self.pool).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_quotas(&self) -> Result<Vec<QuotaUsage>> {
        let rows = sqlx::query(&usage_sql("TRUE")).fetch_all(&self.pool).await?;
        rows.iter().map(quota_usage).collect()
    }

    async fn quotas_covering(&self, repo: &RepositoryName) -> Result<Vec<QuotaUsage>> {
        let mut conn = self.pool.acquire().await?;
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
        self.retry(move || async move {
            let mut tx = self.write_tx().await?;
            check_link(&mut tx, repo, digest, size, guard).await?;
            link_in(&mut tx, repo, digest, size, now).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }
}

/// Runs `guard` on linking `digest` to `repo` inside the caller's write transaction, after locking every
/// quota covering `repo` (in prefix order): `Refused` when it says no, and the caller's transaction is
/// dropped unwritten.
pub(super) async fn check_link(
    conn: &mut PgConnection,
    repo: &RepositoryName,
    digest: &Digest,
    size: u64,
    guard: &dyn LinkGuard,
) -> Result<()> {
    let prefixes: Vec<String> =
        sqlx::query_scalar(&format!("SELECT q.prefix FROM quotas q WHERE {} ORDER BY q.prefix", covers("$1::TEXT")))
            .bind(repo.as_str())
            .fetch_all(&mut *conn)
            .await?;
    for prefix in &prefixes {
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
            .bind(LOCK_QUOTAS)
            .bind(prefix)
            .execute(&mut *conn)
            .await?;
    }
    // Read after the locks: every link under these quotas that committed before is counted.
    let quotas = covering(&mut *conn, repo).await?;
    let already_linked: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id \
         WHERE r.name = $1 AND rb.digest = $2)",
    )
    .bind(repo.as_str())
    .bind(digest.to_string())
    .fetch_one(&mut *conn)
    .await?;
    let attempt = LinkAttempt { repository: repo, digest, size, already_linked, quotas: &quotas };
    guard.check(&attempt).map_err(MetaError::Refused)
}
