//! Webhook subscriptions and their delivery log. Subscriptions are configuration (followed by the
//! durability barrier); delivery attempts are a log (not: a power cut may lose the last few lines).

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::SqliteMeta;
use super::codec::{from_db, to_db};
use crate::Result;
use crate::webhooks::{DeliveryAttempt, FailureCount, NewWebhook, Webhook, WebhookStore, join_events, split_events};

const COLUMNS: &str = "id, url, events, repository_filter, sealed_secret, state, disabled_reason, \
                       consecutive_failures, created_by, created_at, updated_at";

fn webhook(row: &SqliteRow) -> Result<Webhook> {
    let state: String = row.try_get(5)?;
    let events: String = row.try_get(2)?;
    Ok(Webhook {
        id: row.try_get(0)?,
        url: row.try_get(1)?,
        events: split_events(&events),
        repository_filter: row.try_get(3)?,
        sealed_secret: row.try_get(4)?,
        enabled: state == "enabled",
        disabled_reason: row.try_get(6)?,
        consecutive_failures: from_db("webhooks.consecutive_failures", row.try_get(7)?)? as u32,
        created_by: row.try_get(8)?,
        created_at: row.try_get(9)?,
        updated_at: row.try_get(10)?,
    })
}

fn attempt(row: &SqliteRow) -> Result<DeliveryAttempt> {
    let status: Option<i64> = row.try_get(6)?;
    Ok(DeliveryAttempt {
        id: row.try_get(0)?,
        webhook_id: row.try_get(1)?,
        event_id: row.try_get(2)?,
        event_type: row.try_get(3)?,
        attempt: from_db("webhook_deliveries.attempt", row.try_get(4)?)? as u32,
        at: row.try_get(5)?,
        status_code: status.map(|s| s as u16),
        error: row.try_get(7)?,
        duration_ms: from_db("webhook_deliveries.duration_ms", row.try_get(8)?)?,
        succeeded: row.try_get(9)?,
    })
}

#[async_trait]
impl WebhookStore for SqliteMeta {
    async fn create_webhook(&self, new: &NewWebhook) -> Result<Webhook> {
        let row = sqlx::query(&format!(
            "INSERT INTO webhooks (url, events, repository_filter, sealed_secret, state, created_by, created_at, \
             updated_at) VALUES (?1, ?2, ?3, ?4, 'enabled', ?5, ?6, ?6) RETURNING {COLUMNS}"
        ))
        .bind(&new.url)
        .bind(join_events(&new.events))
        .bind(&new.repository_filter)
        .bind(&new.sealed_secret)
        .bind(&new.created_by)
        .bind(new.now)
        .fetch_one(&self.writer)
        .await?;
        let created = webhook(&row)?;
        self.durable().await?;
        Ok(created)
    }

    async fn webhook(&self, id: i64) -> Result<Option<Webhook>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM webhooks WHERE id = ?1"))
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(webhook).transpose()
    }

    async fn webhooks(&self) -> Result<Vec<Webhook>> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM webhooks ORDER BY id")).fetch_all(&self.reader).await?;
        rows.iter().map(webhook).collect()
    }

    async fn enabled_webhooks(&self) -> Result<Vec<Webhook>> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM webhooks WHERE state = 'enabled' ORDER BY id"))
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(webhook).collect()
    }

    async fn delete_webhook(&self, id: i64) -> Result<bool> {
        let done = sqlx::query("DELETE FROM webhooks WHERE id = ?1").bind(id).execute(&self.writer).await?;
        self.durable().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_webhook_enabled(
        &self,
        id: i64,
        enabled: bool,
        reason: Option<&str>,
        now: i64,
    ) -> Result<Option<Webhook>> {
        let row = sqlx::query(&format!(
            "UPDATE webhooks SET state = ?2, disabled_reason = ?3, updated_at = ?4, \
             consecutive_failures = CASE WHEN ?5 THEN 0 ELSE consecutive_failures END \
             WHERE id = ?1 RETURNING {COLUMNS}"
        ))
        .bind(id)
        .bind(if enabled { "enabled" } else { "disabled" })
        .bind(if enabled { None } else { reason })
        .bind(now)
        .bind(enabled)
        .fetch_optional(&self.writer)
        .await?;
        let changed = row.as_ref().map(webhook).transpose()?;
        self.durable().await?;
        Ok(changed)
    }

    async fn record_webhook_attempt(&self, a: &DeliveryAttempt) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let inserted = sqlx::query(
            "INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, attempt, at, status_code, error, \
             duration_ms, succeeded) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 WHERE EXISTS \
             (SELECT 1 FROM webhooks WHERE id = ?1)",
        )
        .bind(a.webhook_id)
        .bind(&a.event_id)
        .bind(&a.event_type)
        .bind(i64::from(a.attempt))
        .bind(a.at)
        .bind(a.status_code.map(i64::from))
        .bind(&a.error)
        .bind(to_db("webhook_deliveries.duration_ms", a.duration_ms)?)
        .bind(a.succeeded)
        .execute(&mut *tx)
        .await?;
        if a.succeeded && inserted.rows_affected() > 0 {
            sqlx::query("UPDATE webhooks SET consecutive_failures = 0 WHERE id = ?1 AND consecutive_failures > 0")
                .bind(a.webhook_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn count_webhook_failure(&self, id: i64, disable_after: u32, reason: &str, now: i64) -> Result<FailureCount> {
        let mut tx = self.write_tx().await?;
        let count: Option<i64> = sqlx::query_scalar(
            "UPDATE webhooks SET consecutive_failures = consecutive_failures + 1 WHERE id = ?1 \
             RETURNING consecutive_failures",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(count) = count else { return Ok(FailureCount::NotFound) };
        let count = from_db("webhooks.consecutive_failures", count)? as u32;
        let disable = disable_after > 0 && count >= disable_after;
        if disable {
            sqlx::query(
                "UPDATE webhooks SET state = 'disabled', disabled_reason = ?2, updated_at = ?3 \
                 WHERE id = ?1 AND state = 'enabled'",
            )
            .bind(id)
            .bind(reason)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.durable().await?;
        Ok(if disable { FailureCount::Disabled(count) } else { FailureCount::Counted(count) })
    }

    async fn webhook_deliveries(&self, id: i64, before: Option<i64>, n: u32) -> Result<Vec<DeliveryAttempt>> {
        let rows = sqlx::query(
            "SELECT id, webhook_id, event_id, event_type, attempt, at, status_code, error, duration_ms, succeeded \
             FROM webhook_deliveries WHERE webhook_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3",
        )
        .bind(id)
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(n))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(attempt).collect()
    }

    async fn prune_webhook_deliveries(&self, before: i64) -> Result<u64> {
        let done =
            sqlx::query("DELETE FROM webhook_deliveries WHERE at < ?1").bind(before).execute(&self.writer).await?;
        Ok(done.rows_affected())
    }
}
