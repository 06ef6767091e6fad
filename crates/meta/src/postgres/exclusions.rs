//! Pull time update exclusions. Registrations take one advisory lock so that concurrent ones cannot both
//! pass the limit.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::{LOCK_PULL_EXCLUSIONS, LOCK_SPACE, PgMeta};
use crate::exclusions::{PullExclusionStore, PullTimeExclusion};
use crate::{MetaError, Result};

fn exclusion(row: &PgRow) -> Result<PullTimeExclusion> {
    Ok(PullTimeExclusion { principal_arn: row.try_get(0)?, created_at: row.try_get(1)? })
}

#[async_trait]
impl PullExclusionStore for PgMeta {
    async fn register_pull_exclusion(&self, principal_arn: &str, now: i64, max: usize) -> Result<PullTimeExclusion> {
        self.retry(move || async move {
            let mut tx = self.write_tx().await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
                .bind(LOCK_SPACE)
                .bind(LOCK_PULL_EXCLUSIONS)
                .execute(&mut *tx)
                .await?;
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pull_time_exclusions WHERE principal_arn = $1)")
                    .bind(principal_arn)
                    .fetch_one(&mut *tx)
                    .await?;
            if exists {
                return Err(MetaError::AlreadyExists(format!("pull time update exclusion {principal_arn}")));
            }
            let count: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM pull_time_exclusions").fetch_one(&mut *tx).await?;
            if count >= max as i64 {
                return Err(MetaError::LimitExceeded(format!(
                    "the registry has {count} pull time update exclusions, the most it may have ({max})"
                )));
            }
            sqlx::query("INSERT INTO pull_time_exclusions (principal_arn, created_at) VALUES ($1, $2)")
                .bind(principal_arn)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(PullTimeExclusion { principal_arn: principal_arn.to_string(), created_at: now })
        })
        .await
    }

    async fn deregister_pull_exclusion(&self, principal_arn: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM pull_time_exclusions WHERE principal_arn = $1")
            .bind(principal_arn)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_pull_exclusions(&self, after: Option<&str>, n: u32) -> Result<Vec<PullTimeExclusion>> {
        let rows = sqlx::query(
            "SELECT principal_arn, created_at FROM pull_time_exclusions WHERE principal_arn > $1 \
             ORDER BY principal_arn LIMIT $2",
        )
        .bind(after.unwrap_or(""))
        .bind(i64::from(n))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(exclusion).collect()
    }
}
