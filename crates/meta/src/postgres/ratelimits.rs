//! Rate limit counters: one `INSERT ... ON CONFLICT DO UPDATE` for a whole report, rows in key order so that
//! two nodes reporting the same counters lock them in the same order (no deadlock); PostgreSQL serialises
//! the additions to one row, so none is lost.

use async_trait::async_trait;
use sqlx::Row;

use super::PgMeta;
use crate::ratelimits::{RateCount, RateLimitStore, merged};
use crate::{MetaError, Result};

#[async_trait]
impl RateLimitStore for PgMeta {
    async fn add_rate_counts(&self, counts: &[RateCount]) -> Result<Vec<u64>> {
        if counts.is_empty() {
            return Ok(Vec::new());
        }
        let (unique, index) = merged(counts);
        let limits: Vec<&str> = unique.iter().map(|c| c.limit.as_str()).collect();
        let subjects: Vec<&str> = unique.iter().map(|c| c.subject.as_str()).collect();
        let starts: Vec<i64> = unique.iter().map(|c| c.window_start).collect();
        let ends: Vec<i64> = unique.iter().map(|c| c.window_end).collect();
        let deltas = unique
            .iter()
            .map(|c| i64::try_from(c.delta).map_err(|_| MetaError::Corrupt("rate limit delta out of range".into())))
            .collect::<Result<Vec<i64>>>()?;
        let rows = self
            .retry(|| async {
                // Retried like every write should PostgreSQL abort it as a deadlock all the same.
                Ok(sqlx::query(
                    "INSERT INTO rate_limit_counts (limit_kind, subject, window_start, window_end, count) \
                     SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[]) \
                     AS r (limit_kind, subject, window_start, window_end, count) \
                     ORDER BY limit_kind, subject, window_start \
                     ON CONFLICT (limit_kind, subject, window_start) \
                     DO UPDATE SET count = rate_limit_counts.count + excluded.count \
                     RETURNING limit_kind, subject, window_start, count",
                )
                .bind(&limits)
                .bind(&subjects)
                .bind(&starts)
                .bind(&ends)
                .bind(&deltas)
                .fetch_all(&self.pool)
                .await?)
            })
            .await?;
        let mut totals = vec![0u64; unique.len()];
        for row in rows {
            let key: (String, String, i64) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            let count: i64 = row.try_get(3)?;
            // `unique` is in key order.
            let at = unique
                .binary_search_by(|c| {
                    (c.limit.as_str(), c.subject.as_str(), c.window_start).cmp(&(key.0.as_str(), key.1.as_str(), key.2))
                })
                .map_err(|_| MetaError::Corrupt("rate limit counts: a row nobody reported".into()))?;
            totals[at] = u64::try_from(count).map_err(|_| MetaError::Corrupt("rate_limit_counts.count".into()))?;
        }
        Ok(index.into_iter().map(|i| totals[i]).collect())
    }

    async fn prune_rate_counts(&self, now: i64) -> Result<u64> {
        let done =
            sqlx::query("DELETE FROM rate_limit_counts WHERE window_end <= $1").bind(now).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }
}
