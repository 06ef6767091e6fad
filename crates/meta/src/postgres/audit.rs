//! The audit log.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::{LOCK_AUDIT, LOCK_SPACE, PgMeta};
use crate::identity::{AuditEvent, AuditLog, AuditQuery, AuditValue};
use crate::{MetaError, Result};

fn audit_event(row: &PgRow) -> Result<AuditEvent> {
    let status: i64 = row.try_get("status")?;
    Ok(AuditEvent {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        principal: row.try_get("principal")?,
        action: row.try_get("action")?,
        resource: row.try_get("resource")?,
        source_ip: row.try_get("source_ip")?,
        outcome: row.try_get("outcome")?,
        status: u16::try_from(status)
            .map_err(|_| MetaError::Corrupt(format!("audit_log.status is out of range: {status}")))?,
        detail: row.try_get("detail")?,
    })
}

#[async_trait]
impl AuditLog for PgMeta {
    /// The events get increasing ids, in slice order. Appends hold an advisory lock from before their first
    /// id is drawn until they commit, so ids also increase in commit order: a reader paging with `after`
    /// never passes an id that a transaction still in flight could commit.
    async fn append_audit(&self, events: &[AuditEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        self.retry(move || async move {
            let mut tx = self.write_tx().await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
                .bind(LOCK_SPACE)
                .bind(LOCK_AUDIT)
                .execute(&mut *tx)
                .await?;
            for event in events {
                sqlx::query(
                    "INSERT INTO audit_log (at, principal, action, resource, source_ip, outcome, status, detail) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(event.at)
                .bind(&event.principal)
                .bind(&event.action)
                .bind(&event.resource)
                .bind(&event.source_ip)
                .bind(&event.outcome)
                .bind(i64::from(event.status))
                .bind(&event.detail)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    async fn list_audit(&self, after: Option<i64>, limit: u32) -> Result<Vec<AuditEvent>> {
        // Ids are positive, so "after i64::MIN" is "from the start".
        let rows = sqlx::query(
            "SELECT id, at, principal, action, resource, source_ip, outcome, status, detail FROM audit_log \
             WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after.unwrap_or(i64::MIN))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(audit_event).collect()
    }

    async fn search_audit(&self, query: &AuditQuery) -> Result<Vec<AuditEvent>> {
        let (clause, values) = query.where_clause(|n| format!("${n}"));
        let sql = format!(
            "SELECT id, at, principal, action, resource, source_ip, outcome, status, detail FROM audit_log \
             WHERE {clause} ORDER BY id DESC LIMIT ${}",
            values.len() + 1
        );
        let mut q = sqlx::query(&sql);
        for v in values {
            q = match v {
                AuditValue::Int(i) => q.bind(i),
                AuditValue::Text(t) => q.bind(t),
            };
        }
        let rows = q.bind(i64::from(query.limit)).fetch_all(&self.pool).await?;
        rows.iter().map(audit_event).collect()
    }
}
