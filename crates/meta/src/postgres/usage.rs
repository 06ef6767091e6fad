//! Per-repository traffic counters, their daily history, and storage snapshots.

use async_trait::async_trait;
use berth_oci::RepositoryName;
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::codec::{from_db, to_db};
use super::{PgMeta, REPOSITORY_EXISTS};
use crate::{DAY, Page, RepositoryUsage, Result, Usage, UsageDay, UsageStore};

/// Stored bytes (linked blobs and manifests) and manifests of repository `r`.
const STORAGE: &str = "COALESCE((SELECT SUM(b.size)::BIGINT FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest \
       WHERE rb.repository_id = r.id), 0) \
     + COALESCE((SELECT SUM(m.size)::BIGINT FROM manifests m WHERE m.repository_id = r.id), 0) AS stored_bytes, \
     (SELECT COUNT(*) FROM manifests m WHERE m.repository_id = r.id) AS images";

/// The hourly snapshots for metering (`storage_hourly`): each repository's storage (its blobs, each once,
/// plus its manifests), and repository '' the registry's deduplicated storage (every blob once, plus
/// manifests).
const HOURLY_REPOSITORIES: &str = "INSERT INTO storage_hourly (hour, repository, stored_bytes) \
     SELECT $1, r.name, COALESCE((SELECT SUM(b.size)::BIGINT FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest \
       WHERE rb.repository_id = r.id), 0) \
     + COALESCE((SELECT SUM(m.size)::BIGINT FROM manifests m WHERE m.repository_id = r.id), 0) \
     FROM repositories r WHERE r.id IS NOT NULL \
     ON CONFLICT (hour, repository) DO UPDATE SET stored_bytes = excluded.stored_bytes";
const HOURLY_REGISTRY: &str = "INSERT INTO storage_hourly (hour, repository, stored_bytes) \
     SELECT $1, '', COALESCE((SELECT SUM(size)::BIGINT FROM blobs), 0) + COALESCE((SELECT SUM(size)::BIGINT FROM manifests), 0) \
     ON CONFLICT (hour, repository) DO UPDATE SET stored_bytes = excluded.stored_bytes";

fn optional(column: &str, row: &PgRow) -> Result<Option<u64>> {
    row.try_get::<Option<i64>, _>(column)?.map(|v| from_db(column, v)).transpose()
}

fn counters(row: &PgRow) -> Result<Usage> {
    Ok(Usage {
        bytes_in: from_db("usage.bytes_in", row.try_get("bytes_in")?)?,
        bytes_out: from_db("usage.bytes_out", row.try_get("bytes_out")?)?,
        pulls: from_db("usage.pulls", row.try_get("pulls")?)?,
    })
}

#[async_trait]
impl UsageStore for PgMeta {
    /// "The repository must exist" means it has a row here: counters survive the repository's content
    /// being deleted, and an unknown name adds nothing (and creates nothing).
    async fn add_usage(
        &self,
        repo: &RepositoryName,
        bytes_in: u64,
        bytes_out: u64,
        pulls: u64,
        now: i64,
    ) -> Result<()> {
        let (bytes_in, bytes_out, pulls) =
            (to_db("bytes_in", bytes_in)?, to_db("bytes_out", bytes_out)?, to_db("pulls", pulls)?);
        let day = now - now.rem_euclid(DAY);
        self.retry(move || async move {
            let mut tx = self.write_tx().await?;
            // An unknown name selects no row, so nothing is inserted. Concurrent additions to one repository
            // wait for each other's row locks, so none is lost.
            sqlx::query(
                "INSERT INTO usage AS u (repository_id, bytes_in, bytes_out, pulls) \
                 SELECT id, $2, $3, $4 FROM repositories WHERE name = $1 \
                 ON CONFLICT (repository_id) DO UPDATE SET \
                 bytes_in = u.bytes_in + excluded.bytes_in, \
                 bytes_out = u.bytes_out + excluded.bytes_out, \
                 pulls = u.pulls + excluded.pulls",
            )
            .bind(repo.as_str())
            .bind(bytes_in)
            .bind(bytes_out)
            .bind(pulls)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO usage_daily AS d (repository_id, day, bytes_in, bytes_out, pulls) \
                 SELECT id, $5, $2, $3, $4 FROM repositories WHERE name = $1 \
                 ON CONFLICT (repository_id, day) DO UPDATE SET \
                 bytes_in = d.bytes_in + excluded.bytes_in, \
                 bytes_out = d.bytes_out + excluded.bytes_out, \
                 pulls = d.pulls + excluded.pulls",
            )
            .bind(repo.as_str())
            .bind(bytes_in)
            .bind(bytes_out)
            .bind(pulls)
            .bind(day)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
        .await
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
        counters(&row)
    }

    async fn record_storage(&self, now: i64) -> Result<()> {
        let sql = format!(
            "INSERT INTO usage_daily (repository_id, day, stored_bytes, images) \
             SELECT r.id, $1, {STORAGE} FROM repositories r WHERE {REPOSITORY_EXISTS} \
             ON CONFLICT (repository_id, day) DO UPDATE SET \
             stored_bytes = excluded.stored_bytes, images = excluded.images"
        );
        // Nodes snapshotting at once may lock the day's rows in different orders: retried on a deadlock.
        let day = now - now.rem_euclid(DAY);
        let hour = crate::meter::hour_of(now);
        let sql = &sql;
        self.retry(move || async move {
            let mut tx = self.write_tx().await?;
            sqlx::query(sql).bind(day).execute(&mut *tx).await?;
            sqlx::query(HOURLY_REPOSITORIES).bind(hour).execute(&mut *tx).await?;
            sqlx::query(HOURLY_REGISTRY).bind(hour).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    async fn repository_usage(&self, page: Page<'_>) -> Result<Vec<RepositoryUsage>> {
        let sql = format!(
            "SELECT r.name, {STORAGE}, COALESCE(u.bytes_in, 0) AS bytes_in, COALESCE(u.bytes_out, 0) AS bytes_out, \
             COALESCE(u.pulls, 0) AS pulls FROM repositories r LEFT JOIN usage u ON u.repository_id = r.id \
             WHERE r.name > $1 AND {REPOSITORY_EXISTS} ORDER BY r.name LIMIT $2"
        );
        let rows =
            sqlx::query(&sql).bind(page.last.unwrap_or("")).bind(i64::from(page.n)).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                let name: String = row.try_get("name")?;
                Ok(RepositoryUsage {
                    name: name.parse().map_err(|_| crate::MetaError::Corrupt(format!("repository name {name:?}")))?,
                    stored_bytes: from_db("stored_bytes", row.try_get("stored_bytes")?)?,
                    images: from_db("images", row.try_get("images")?)?,
                    usage: counters(row)?,
                })
            })
            .collect()
    }

    async fn usage_days(&self, repo: Option<&RepositoryName>, since: i64) -> Result<Vec<UsageDay>> {
        let rows = sqlx::query(
            "SELECT d.day, SUM(d.stored_bytes)::BIGINT AS stored_bytes, SUM(d.images)::BIGINT AS images, \
             SUM(d.bytes_in)::BIGINT AS bytes_in, SUM(d.bytes_out)::BIGINT AS bytes_out, SUM(d.pulls)::BIGINT AS pulls \
             FROM usage_daily d JOIN repositories r ON r.id = d.repository_id \
             WHERE d.day >= $1 AND ($2::TEXT IS NULL OR r.name = $2) GROUP BY d.day ORDER BY d.day",
        )
        .bind(since)
        .bind(repo.map(RepositoryName::as_str))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(UsageDay {
                    day: row.try_get("day")?,
                    stored_bytes: optional("stored_bytes", row)?,
                    images: optional("images", row)?,
                    usage: counters(row)?,
                })
            })
            .collect()
    }

    async fn blob_totals(&self) -> Result<(u64, u64)> {
        let row = sqlx::query("SELECT COUNT(*) AS n, COALESCE(SUM(size), 0)::BIGINT AS bytes FROM blobs")
            .fetch_one(&self.pool)
            .await?;
        Ok((from_db("blobs", row.try_get("n")?)?, from_db("bytes", row.try_get("bytes")?)?))
    }
}
