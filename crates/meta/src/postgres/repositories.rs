//! Repositories (the catalog) and blob links.

use async_trait::async_trait;
use berth_oci::{Digest, RepositoryName};
use sqlx::{PgConnection, Row};

use super::codec::{from_db, parse, to_db};
use super::{Lock, PgMeta, REPOSITORY_EXISTS, ensure_repository, lock_repository};
use crate::quotas::LinkGuard;
use crate::{BlobIndex, Page, RepositoryStore, Result};

#[async_trait]
impl RepositoryStore for PgMeta {
    async fn list_repositories(&self, page: Page<'_>) -> Result<Vec<RepositoryName>> {
        // Names are never empty, so "after ''" is "from the start" and the name index serves both cases.
        let sql =
            format!("SELECT name FROM repositories r WHERE name > $1 AND {REPOSITORY_EXISTS} ORDER BY name LIMIT $2");
        let names: Vec<String> = sqlx::query_scalar(&sql)
            .bind(page.last.unwrap_or(""))
            .bind(i64::from(page.n))
            .fetch_all(&self.pool)
            .await?;
        names.iter().map(|n| parse("repositories.name", n)).collect()
    }

    async fn repository_exists(&self, name: &RepositoryName) -> Result<bool> {
        let sql = format!("SELECT EXISTS (SELECT 1 FROM repositories r WHERE name = $1 AND {REPOSITORY_EXISTS})");
        Ok(sqlx::query_scalar(&sql).bind(name.as_str()).fetch_one(&self.pool).await?)
    }
}

/// Links `digest` to `repo` inside `conn`'s transaction, recording the blob if it is new.
pub(super) async fn link_in(
    conn: &mut PgConnection,
    repo: &RepositoryName,
    digest: &Digest,
    size: u64,
    now: i64,
) -> Result<()> {
    let size = to_db("blob size", size)?;
    let digest = digest.to_string();
    let repository_id = ensure_repository(&mut *conn, repo.as_str(), now, Lock::Shared).await?;
    // A digest names its content, so a blob row once written never changes (first size wins).
    sqlx::query("INSERT INTO blobs (digest, size, created_at) VALUES ($1, $2, $3) ON CONFLICT (digest) DO NOTHING")
        .bind(&digest)
        .bind(size)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (repository_id, digest) DO NOTHING",
    )
    .bind(repository_id)
    .bind(&digest)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[async_trait]
impl BlobIndex for PgMeta {
    async fn link_blob(&self, repo: &RepositoryName, digest: &Digest, size: u64, now: i64) -> Result<()> {
        self.retry(move || async move {
            let mut tx = self.write_tx().await?;
            link_in(&mut tx, repo, digest, size, now).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    async fn mount_blob(
        &self,
        repo: &RepositoryName,
        from: &RepositoryName,
        digest: &Digest,
        now: i64,
        guard: &dyn LinkGuard,
    ) -> Result<Option<u64>> {
        self.retry(move || async move {
            let mut tx = self.write_tx().await?;
            // Locks the source link and the blob row: garbage collection cannot remove either until this
            // commits, and a removal that committed first is not seen.
            let size: Option<i64> = sqlx::query_scalar(
                "SELECT b.size FROM repository_blobs rb \
                 JOIN repositories r ON r.id = rb.repository_id \
                 JOIN blobs b ON b.digest = rb.digest \
                 WHERE r.name = $1 AND rb.digest = $2 FOR SHARE OF rb, b",
            )
            .bind(from.as_str())
            .bind(digest.to_string())
            .fetch_optional(&mut *tx)
            .await?;
            let Some(size) = size else {
                return Ok(None);
            };
            let size = from_db("blobs.size", size)?;
            super::quotas::check_link(&mut tx, repo, digest, size, guard).await?;
            link_in(&mut tx, repo, digest, size, now).await?;
            tx.commit().await?;
            Ok(Some(size))
        })
        .await
    }

    async fn linked_blob_size(&self, repo: &RepositoryName, digest: &Digest) -> Result<Option<u64>> {
        let size: Option<i64> = sqlx::query_scalar(
            "SELECT b.size FROM repository_blobs rb \
             JOIN repositories r ON r.id = rb.repository_id \
             JOIN blobs b ON b.digest = rb.digest \
             WHERE r.name = $1 AND rb.digest = $2",
        )
        .bind(repo.as_str())
        .bind(digest.to_string())
        .fetch_optional(&self.pool)
        .await?;
        size.map(|s| from_db("blobs.size", s)).transpose()
    }

    async fn unlink_blob(&self, repo: &RepositoryName, digest: &Digest) -> Result<bool> {
        self.retry(move || async move {
            let mut tx = self.write_tx().await?;
            let Some(id) = lock_repository(&mut tx, repo.as_str(), Lock::Shared).await? else {
                return Ok(false);
            };
            let done = sqlx::query("DELETE FROM repository_blobs WHERE repository_id = $1 AND digest = $2")
                .bind(id)
                .bind(digest.to_string())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(done.rows_affected() > 0)
        })
        .await
    }

    async fn all_blobs(&self) -> Result<Vec<(Digest, u64)>> {
        let rows = sqlx::query("SELECT digest, size FROM blobs ORDER BY digest").fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                Ok((parse("blobs.digest", row.try_get("digest")?)?, from_db("blobs.size", row.try_get("size")?)?))
            })
            .collect()
    }
}
