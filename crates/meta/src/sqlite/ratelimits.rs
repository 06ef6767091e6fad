//! Rate limit counters. Not followed by the durability barrier: a count lost to a power cut only lets a
//! subject make a few more requests in the current window.

use async_trait::async_trait;

use super::SqliteMeta;
use super::codec::{from_db, to_db};
use crate::Result;
use crate::ratelimits::{RateCount, RateLimitStore, merged};

#[async_trait]
impl RateLimitStore for SqliteMeta {
    async fn add_rate_counts(&self, counts: &[RateCount]) -> Result<Vec<u64>> {
        if counts.is_empty() {
            return Ok(Vec::new());
        }
        let (unique, index) = merged(counts);
        let mut totals = Vec::with_capacity(unique.len());
        let mut tx = self.write_tx().await?;
        for c in &unique {
            let total: i64 = sqlx::query_scalar(
                "INSERT INTO rate_limit_counts (limit_kind, subject, window_start, window_end, count) \
                 VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (limit_kind, subject, window_start) DO UPDATE SET count = count + excluded.count \
                 RETURNING count",
            )
            .bind(&c.limit)
            .bind(&c.subject)
            .bind(c.window_start)
            .bind(c.window_end)
            .bind(to_db("rate_limit_counts.count", c.delta)?)
            .fetch_one(&mut *tx)
            .await?;
            totals.push(from_db("rate_limit_counts.count", total)?);
        }
        tx.commit().await?;
        Ok(index.into_iter().map(|i| totals[i]).collect())
    }

    async fn prune_rate_counts(&self, now: i64) -> Result<u64> {
        let done =
            sqlx::query("DELETE FROM rate_limit_counts WHERE window_end <= ?1").bind(now).execute(&self.writer).await?;
        Ok(done.rows_affected())
    }
}
