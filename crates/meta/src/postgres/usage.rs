//! Per-repository traffic counters.

use async_trait::async_trait;
use berth_oci::RepositoryName;
use sqlx::Row;

use super::PgMeta;
use super::codec::{from_db, to_db};
use crate::{Result, Usage, UsageStore};

#[async_trait]
impl UsageStore for PgMeta {
    /// "The repository must exist" means it has a row here: counters survive the repository's content
    /// being deleted, and an unknown name adds nothing (and creates nothing). Concurrent additions to one
    /// repository wait for each other's row lock, so none is lost.
    async fn add_usage(&self, repo: &RepositoryName, bytes_in: u64, bytes_out: u64, pulls: u64) -> Result<()> {
        sqlx::query(
            "INSERT INTO usage AS u (repository_id, bytes_in, bytes_out, pulls) \
             SELECT id, $2, $3, $4 FROM repositories WHERE name = $1 \
             ON CONFLICT (repository_id) DO UPDATE SET \
             bytes_in = u.bytes_in + excluded.bytes_in, \
             bytes_out = u.bytes_out + excluded.bytes_out, \
             pulls = u.pulls + excluded.pulls",
        )
        .bind(repo.as_str())
        .bind(to_db("bytes_in", bytes_in)?)
        .bind(to_db("bytes_out", bytes_out)?)
        .bind(to_db("pulls", pulls)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn usage(&self, repo: &RepositoryName) -> Result<Usage> {
        let row = sqlx::query(
            "SELECT u.bytes_in, u.bytes_out, u.pulls FROM usage u \
             JOIN repositories r ON r.id = u.repository_id WHERE r.name = $1",
        )
        .bind(repo.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(Usage::default()) };
        Ok(Usage {
            bytes_in: from_db("usage.bytes_in", row.try_get("bytes_in")?)?,
            bytes_out: from_db("usage.bytes_out", row.try_get("bytes_out")?)?,
            pulls: from_db("usage.pulls", row.try_get("pulls")?)?,
        })
    }
}
