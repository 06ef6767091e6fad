//! Repository creation templates, and repositories created from one (PostgreSQL).

use async_trait::async_trait;
use berth_oci::RepositoryName;
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::settings::{
    exclusions_from_db, exclusions_to_db, insert_settings, mutability_from_db, mutability_to_db, record_of,
};
use super::{Lock, PgMeta, ensure_repository};
use crate::templates::codec::{list_from_db, list_to_db, tags_from_db, tags_to_db};
use crate::templates::{CreationTemplate, TemplateStore, TemplatedRepository};
use crate::{MetaError, Page, Result};

const COLUMNS: &str = "prefix, description, encryption_type, kms_key, resource_tags, image_tag_mutability, \
     tag_mutability_exclusions, repository_policy, lifecycle_policy, applied_for, custom_role_arn, created_at, \
     updated_at";

fn template_of(r: &PgRow) -> Result<CreationTemplate> {
    let encryption_type: Option<String> = r.try_get("encryption_type")?;
    Ok(CreationTemplate {
        prefix: r.try_get("prefix")?,
        description: r.try_get("description")?,
        encryption: encryption_type.map(|t| Ok::<_, sqlx::Error>((t, r.try_get("kms_key")?))).transpose()?,
        resource_tags: tags_from_db(r.try_get("resource_tags")?)?,
        tag_mutability: mutability_from_db(r.try_get("image_tag_mutability")?)?,
        tag_mutability_exclusions: exclusions_from_db(r.try_get("tag_mutability_exclusions")?)?,
        repository_policy: r.try_get("repository_policy")?,
        lifecycle_policy: r.try_get("lifecycle_policy")?,
        applied_for: list_from_db("applied_for", r.try_get("applied_for")?)?,
        custom_role_arn: r.try_get("custom_role_arn")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Binds a template's fields in column order, `prefix` to `custom_role_arn` (the times are bound by the caller).
fn bind_fields<'q>(
    q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    t: &'q CreationTemplate,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    q.bind(&t.prefix)
        .bind(&t.description)
        .bind(t.encryption.as_ref().map(|e| &e.0))
        .bind(t.encryption.as_ref().and_then(|e| e.1.as_ref()))
        .bind(tags_to_db(&t.resource_tags))
        .bind(mutability_to_db(t.tag_mutability))
        .bind(exclusions_to_db(&t.tag_mutability_exclusions))
        .bind(&t.repository_policy)
        .bind(&t.lifecycle_policy)
        .bind(list_to_db(&t.applied_for))
        .bind(&t.custom_role_arn)
}

#[async_trait]
impl TemplateStore for PgMeta {
    async fn create_template(&self, t: &CreationTemplate) -> Result<()> {
        self.retry(move || async move {
            let mut tx = self.write_tx().await?;
            let sql = format!(
                "INSERT INTO repository_creation_templates ({COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (prefix) DO NOTHING"
            );
            let done =
                bind_fields(sqlx::query(&sql), t).bind(t.created_at).bind(t.updated_at).execute(&mut *tx).await?;
            if done.rows_affected() == 0 {
                return Err(MetaError::AlreadyExists(format!("repository creation template {}", t.prefix)));
            }
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    async fn update_template(&self, t: &CreationTemplate) -> Result<bool> {
        self.retry(move || async move {
            let mut tx = self.write_tx().await?;
            let done = bind_fields(
                sqlx::query(
                    "UPDATE repository_creation_templates SET description = $2, encryption_type = $3, kms_key = $4, \
                 resource_tags = $5, image_tag_mutability = $6, tag_mutability_exclusions = $7, \
                 repository_policy = $8, lifecycle_policy = $9, applied_for = $10, custom_role_arn = $11, \
                 updated_at = $12 WHERE prefix = $1",
                ),
                t,
            )
            .bind(t.updated_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(done.rows_affected() > 0)
        })
        .await
    }

    async fn template(&self, prefix: &str) -> Result<Option<CreationTemplate>> {
        let sql = format!("SELECT {COLUMNS} FROM repository_creation_templates WHERE prefix = $1");
        let row = sqlx::query(&sql).bind(prefix).fetch_optional(&self.pool).await?;
        row.as_ref().map(template_of).transpose()
    }

    async fn list_templates(&self, page: Page<'_>) -> Result<Vec<CreationTemplate>> {
        // Prefixes are never empty, so "after ''" is "from the start".
        let sql =
            format!("SELECT {COLUMNS} FROM repository_creation_templates WHERE prefix > $1 ORDER BY prefix LIMIT $2");
        let rows =
            sqlx::query(&sql).bind(page.last.unwrap_or("")).bind(i64::from(page.n)).fetch_all(&self.pool).await?;
        rows.iter().map(template_of).collect()
    }

    async fn delete_template(&self, prefix: &str) -> Result<Option<CreationTemplate>> {
        self.retry(move || async move {
            let mut tx = self.write_tx().await?;
            let sql = format!("DELETE FROM repository_creation_templates WHERE prefix = $1 RETURNING {COLUMNS}");
            let row = sqlx::query(&sql).bind(prefix).fetch_optional(&mut *tx).await?;
            let template = row.as_ref().map(template_of).transpose()?;
            tx.commit().await?;
            Ok(template)
        })
        .await
    }

    async fn create_repository_from_template(
        &self,
        name: &RepositoryName,
        repository: &TemplatedRepository,
        now: i64,
    ) -> Result<bool> {
        self.retry(move || async move {
            let mut tx = self.write_tx().await?;
            // Locked first, checked after: a concurrent push or create cannot slip in between. Returning
            // drops `tx`, which rolls back (including a repositories row created here).
            let id = ensure_repository(&mut tx, name.as_str(), now, Lock::Exclusive).await?;
            if record_of(&mut tx, name).await?.is_some() {
                return Ok(false);
            }
            insert_settings(&mut tx, id, &repository.settings, now).await?;
            if let Some(text) = &repository.lifecycle_policy {
                sqlx::query(
                    "INSERT INTO repository_lifecycle_policies (repository_id, policy_text, updated_at, \
                     last_evaluated_at) VALUES ($1, $2, $3, NULL)",
                )
                .bind(id)
                .bind(text)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            if let Some(document) = &repository.repository_policy {
                sqlx::query(
                    "INSERT INTO policies (target_kind, target_name, document, updated_at) \
                     VALUES ('repository', $1, $2, $3) ON CONFLICT (target_kind, target_name) DO UPDATE \
                     SET document = excluded.document, updated_at = excluded.updated_at",
                )
                .bind(name.as_str())
                .bind(document)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(true)
        })
        .await
    }
}
