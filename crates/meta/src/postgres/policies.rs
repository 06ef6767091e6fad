//! Policy documents and repository visibility.

use async_trait::async_trait;
use berth_oci::RepositoryName;

use super::codec::parse;
use super::{PgMeta, REPOSITORY_EXISTS};
use crate::identity::{PolicyStore, PolicyTarget, Visibility};
use crate::{MetaError, Page, Result};

/// A target's key in `policies`: (target_kind, target_name).
fn target_key(target: &PolicyTarget) -> (&'static str, &str) {
    match target {
        PolicyTarget::User(name) => ("user", name),
        PolicyTarget::Group(name) => ("group", name),
        PolicyTarget::Repository(repo) => ("repository", repo.as_str()),
        PolicyTarget::Registry => ("registry", ""),
    }
}

pub(super) fn visibility_to_db(visibility: Visibility) -> &'static str {
    match visibility {
        Visibility::Private => "private",
        Visibility::Public => "public",
    }
}

pub(super) fn visibility_from_db(value: &str) -> Result<Visibility> {
    match value {
        "private" => Ok(Visibility::Private),
        "public" => Ok(Visibility::Public),
        other => Err(MetaError::Corrupt(format!("repositories.visibility {other:?}"))),
    }
}

#[async_trait]
impl PolicyStore for PgMeta {
    async fn put_policy(&self, target: &PolicyTarget, document: &str, now: i64) -> Result<()> {
        let (kind, name) = target_key(target);
        self.retry(move || async move {
            let mut tx = self.write_tx().await?;
            // The user or group is locked against deletion until the policy is committed, so a concurrent
            // delete cannot leave a policy behind for a user or group that no longer exists (it waits, then
            // its trigger removes the policy too). On error `tx` is dropped, which rolls back.
            let owner_exists = match target {
                PolicyTarget::User(_) | PolicyTarget::Group(_) => {
                    let sql = if kind == "user" {
                        "SELECT 1 FROM users WHERE name = $1 FOR KEY SHARE"
                    } else {
                        "SELECT 1 FROM groups WHERE name = $1 FOR KEY SHARE"
                    };
                    let found: Option<i32> = sqlx::query_scalar(sql).bind(name).fetch_optional(&mut *tx).await?;
                    found.is_some()
                }
                PolicyTarget::Repository(repo) => {
                    sqlx::query(
                        "INSERT INTO repositories (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                    )
                    .bind(repo.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    true
                }
                PolicyTarget::Registry => true,
            };
            if !owner_exists {
                return Err(MetaError::NotFound(format!("{kind} {name}")));
            }
            sqlx::query(
                "INSERT INTO policies (target_kind, target_name, document, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (target_kind, target_name) DO UPDATE \
                 SET document = excluded.document, updated_at = excluded.updated_at",
            )
            .bind(kind)
            .bind(name)
            .bind(document)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    async fn get_policy(&self, target: &PolicyTarget) -> Result<Option<String>> {
        let (kind, name) = target_key(target);
        Ok(sqlx::query_scalar("SELECT document FROM policies WHERE target_kind = $1 AND target_name = $2")
            .bind(kind)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Deleting a repository's policy keeps its repository row (and visibility).
    async fn delete_policy(&self, target: &PolicyTarget) -> Result<bool> {
        let (kind, name) = target_key(target);
        let done = sqlx::query("DELETE FROM policies WHERE target_kind = $1 AND target_name = $2")
            .bind(kind)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_visibility(&self, repo: &RepositoryName, visibility: Visibility, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO repositories (name, created_at, visibility) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET visibility = excluded.visibility",
        )
        .bind(repo.as_str())
        .bind(now)
        .bind(visibility_to_db(visibility))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn visibility(&self, repo: &RepositoryName) -> Result<Visibility> {
        let value: Option<String> = sqlx::query_scalar("SELECT visibility FROM repositories WHERE name = $1")
            .bind(repo.as_str())
            .fetch_optional(&self.pool)
            .await?;
        value.map_or(Ok(Visibility::Private), |v| visibility_from_db(&v))
    }

    async fn list_public_repositories(&self, page: Page<'_>) -> Result<Vec<RepositoryName>> {
        // `visibility = 'public'` spelled as in the partial index `repositories_public`, so that it serves
        // the scan. Names are never empty, so "after ''" is "from the start".
        let sql = format!(
            "SELECT name FROM repositories r WHERE visibility = 'public' AND name > $1 AND {REPOSITORY_EXISTS} \
             ORDER BY name LIMIT $2"
        );
        let names: Vec<String> = sqlx::query_scalar(&sql)
            .bind(page.last.unwrap_or(""))
            .bind(i64::from(page.n))
            .fetch_all(&self.pool)
            .await?;
        names.iter().map(|n| parse("repositories.name", n)).collect()
    }
}
