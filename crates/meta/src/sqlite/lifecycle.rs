//! Lifecycle policies and previews.

use async_trait::async_trait;
use berth_oci::RepositoryName;
use sqlx::Row;

use super::SqliteMeta;
use super::codec::parse;
use super::settings::make_explicit;
use crate::Result;
use crate::lifecycle::{LifecyclePolicyRecord, LifecyclePreviewRecord, LifecycleStore};

const REPOSITORY_ID: &str = "(SELECT id FROM repositories WHERE name = ?1)";

#[async_trait]
impl LifecycleStore for SqliteMeta {
    async fn put_lifecycle_policy(&self, name: &RepositoryName, text: &str, now: i64) -> Result<bool> {
        let mut tx = self.write_tx().await?;
        let Some(id) = make_explicit(&mut tx, name).await? else {
            return Ok(false);
        };
        sqlx::query(
            "INSERT INTO repository_lifecycle_policies (repository_id, policy_text, updated_at, last_evaluated_at) \
             VALUES (?1, ?2, ?3, NULL) ON CONFLICT (repository_id) DO UPDATE SET \
             policy_text = excluded.policy_text, updated_at = excluded.updated_at, last_evaluated_at = NULL",
        )
        .bind(id)
        .bind(text)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.durable().await?;
        Ok(true)
    }

    async fn lifecycle_policy(&self, name: &RepositoryName) -> Result<Option<LifecyclePolicyRecord>> {
        let sql = format!(
            "SELECT policy_text, updated_at, last_evaluated_at FROM repository_lifecycle_policies \
             WHERE repository_id = {REPOSITORY_ID}"
        );
        let row = sqlx::query(&sql).bind(name.as_str()).fetch_optional(&self.reader).await?;
        row.map(|r| {
            Ok(LifecyclePolicyRecord {
                text: r.try_get(0)?,
                updated_at: r.try_get(1)?,
                last_evaluated_at: r.try_get(2)?,
            })
        })
        .transpose()
    }

    async fn delete_lifecycle_policy(&self, name: &RepositoryName) -> Result<Option<LifecyclePolicyRecord>> {
        let mut tx = self.write_tx().await?;
        let sql = format!(
            "DELETE FROM repository_lifecycle_policies WHERE repository_id = {REPOSITORY_ID} \
             RETURNING policy_text, updated_at, last_evaluated_at"
        );
        let row = sqlx::query(&sql).bind(name.as_str()).fetch_optional(&mut *tx).await?;
        let record = row
            .map(|r| -> Result<_> {
                Ok(LifecyclePolicyRecord {
                    text: r.try_get(0)?,
                    updated_at: r.try_get(1)?,
                    last_evaluated_at: r.try_get(2)?,
                })
            })
            .transpose()?;
        tx.commit().await?;
        self.durable().await?;
        Ok(record)
    }

    async fn record_lifecycle_evaluation(&self, name: &RepositoryName, text: &str, at: i64) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let sql = format!(
            "UPDATE repository_lifecycle_policies SET last_evaluated_at = ?3 \
             WHERE repository_id = {REPOSITORY_ID} AND policy_text = ?2"
        );
        sqlx::query(&sql).bind(name.as_str()).bind(text).bind(at).execute(&mut *tx).await?;
        tx.commit().await?;
        self.durable().await?;
        Ok(())
    }

    async fn lifecycle_policies(&self) -> Result<Vec<(RepositoryName, Option<i64>)>> {
        let rows = sqlx::query(
            "SELECT r.name, p.last_evaluated_at FROM repository_lifecycle_policies p \
             JOIN repositories r ON r.id = p.repository_id ORDER BY r.name",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                let name: String = r.try_get(0)?;
                Ok((parse("repositories.name", &name)?, r.try_get(1)?))
            })
            .collect()
    }

    async fn put_lifecycle_preview(&self, name: &RepositoryName, preview: &LifecyclePreviewRecord) -> Result<bool> {
        let mut tx = self.write_tx().await?;
        let Some(id) = make_explicit(&mut tx, name).await? else {
            return Ok(false);
        };
        sqlx::query(
            "INSERT INTO repository_lifecycle_previews (repository_id, policy_text, status, started_at, result) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (repository_id) DO UPDATE SET \
             policy_text = excluded.policy_text, status = excluded.status, started_at = excluded.started_at, \
             result = excluded.result",
        )
        .bind(id)
        .bind(&preview.policy_text)
        .bind(&preview.status)
        .bind(preview.started_at)
        .bind(&preview.result)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.durable().await?;
        Ok(true)
    }

    async fn lifecycle_preview(&self, name: &RepositoryName) -> Result<Option<LifecyclePreviewRecord>> {
        let sql = format!(
            "SELECT policy_text, status, started_at, result FROM repository_lifecycle_previews \
             WHERE repository_id = {REPOSITORY_ID}"
        );
        let row = sqlx::query(&sql).bind(name.as_str()).fetch_optional(&self.reader).await?;
        row.map(|r| {
            Ok(LifecyclePreviewRecord {
                policy_text: r.try_get(0)?,
                status: r.try_get(1)?,
                started_at: r.try_get(2)?,
                result: r.try_get(3)?,
            })
        })
        .transpose()
    }
}
