//! Metering rows.

use async_trait::async_trait;
use sqlx::Row;

use super::PgMeta;
use super::codec::{from_db, to_db};
use crate::Result;
use crate::meter::{MeterCount, MeterStore, merged};

#[async_trait]
impl MeterStore for PgMeta {
    async fn add_meter(&self, hour: i64, counts: &[MeterCount]) -> Result<()> {
        if counts.is_empty() {
            return Ok(());
        }
        let merged = merged(counts);
        let merged = &merged;
        // Rows are locked in key order by every node, and a deadlock is retried all the same.
        self.retry(move || async move {
            let mut tx = self.write_tx().await?;
            for c in merged {
                sqlx::query(
                    "INSERT INTO meter AS m (hour, repository, subject, operation, requests, bytes_in, bytes_out) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (hour, repository, subject, operation) DO UPDATE SET \
                 requests = m.requests + excluded.requests, bytes_in = m.bytes_in + excluded.bytes_in, \
                 bytes_out = m.bytes_out + excluded.bytes_out",
                )
                .bind(hour)
                .bind(&c.repository)
                .bind(&c.subject)
                .bind(&c.operation)
                .bind(to_db("meter.requests", c.requests)?)
                .bind(to_db("meter.bytes_in", c.bytes_in)?)
                .bind(to_db("meter.bytes_out", c.bytes_out)?)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    async fn meter_totals(&self, from: i64, to: i64) -> Result<Vec<MeterCount>> {
        let rows = sqlx::query(
            "SELECT repository, subject, operation, SUM(requests)::BIGINT AS requests, SUM(bytes_in)::BIGINT AS bytes_in, \
             SUM(bytes_out)::BIGINT AS bytes_out FROM meter WHERE hour >= $1 AND hour < $2 \
             GROUP BY repository, subject, operation ORDER BY repository, subject, operation",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(MeterCount {
                    repository: row.try_get("repository")?,
                    subject: row.try_get("subject")?,
                    operation: row.try_get("operation")?,
                    requests: from_db("meter.requests", row.try_get("requests")?)?,
                    bytes_in: from_db("meter.bytes_in", row.try_get("bytes_in")?)?,
                    bytes_out: from_db("meter.bytes_out", row.try_get("bytes_out")?)?,
                })
            })
            .collect()
    }

    async fn storage_byte_hours(&self, from: i64, to: i64) -> Result<Vec<(String, u128)>> {
        // Summed in Rust: byte-hours of a large registry over a year overflow an INTEGER.
        let rows = sqlx::query(
            "SELECT repository, stored_bytes FROM storage_hourly WHERE hour >= $1 AND hour < $2 ORDER BY repository",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<(String, u128)> = Vec::new();
        for row in &rows {
            let repo: String = row.try_get("repository")?;
            let bytes = u128::from(from_db("storage_hourly.stored_bytes", row.try_get("stored_bytes")?)?);
            match out.last_mut() {
                Some((r, sum)) if *r == repo => *sum += bytes,
                _ => out.push((repo, bytes)),
            }
        }
        Ok(out)
    }

    async fn prune_meter(&self, before: i64) -> Result<u64> {
        let mut tx = self.write_tx().await?;
        let a = sqlx::query("DELETE FROM meter WHERE hour < $1").bind(before).execute(&mut *tx).await?;
        let b = sqlx::query("DELETE FROM storage_hourly WHERE hour < $1").bind(before).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(a.rows_affected() + b.rows_affected())
    }
}
