//! Groups and their members.

use async_trait::async_trait;

use super::PgMeta;
use crate::identity::GroupStore;
use crate::{MetaError, Page, Result};

#[async_trait]
impl GroupStore for PgMeta {
    async fn create_group(&self, name: &str, now: i64) -> Result<()> {
        let result = sqlx::query("INSERT INTO groups (name, created_at) VALUES ($1, $2)")
            .bind(name)
            .bind(now)
            .execute(&self.pool)
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(MetaError::AlreadyExists(format!("group {name}")))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn delete_group(&self, name: &str) -> Result<bool> {
        // Memberships go with it (ON DELETE CASCADE), its policy by trigger (`groups_delete_policy`).
        let done = sqlx::query("DELETE FROM groups WHERE name = $1").bind(name).execute(&self.pool).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_groups(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT name FROM groups ORDER BY name").fetch_all(&self.pool).await?)
    }

    async fn list_groups_page(&self, page: Page<'_>) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT name FROM groups WHERE name > $1 ORDER BY name LIMIT $2")
            .bind(page.last.unwrap_or(""))
            .bind(i64::from(page.n))
            .fetch_all(&self.pool)
            .await?)
    }

    async fn add_member(&self, group: &str, user: &str) -> Result<()> {
        self.retry(move || async move {
            // Checked in the transaction (rather than from a foreign-key violation, which does not say which
            // key failed) so that the error names what is missing; the rows found are locked against deletion
            // until the membership is committed.
            let mut tx = self.write_tx().await?;
            let group_found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM groups WHERE name = $1 FOR KEY SHARE")
                .bind(group)
                .fetch_optional(&mut *tx)
                .await?;
            if group_found.is_none() {
                return Err(MetaError::NotFound(format!("group {group}")));
            }
            let user_found: Option<i32> = sqlx::query_scalar("SELECT 1 FROM users WHERE name = $1 FOR KEY SHARE")
                .bind(user)
                .fetch_optional(&mut *tx)
                .await?;
            if user_found.is_none() {
                return Err(MetaError::NotFound(format!("user {user}")));
            }
            sqlx::query(
                "INSERT INTO group_members (group_name, user_name) VALUES ($1, $2) \
                 ON CONFLICT (group_name, user_name) DO NOTHING",
            )
            .bind(group)
            .bind(user)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    async fn remove_member(&self, group: &str, user: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM group_members WHERE group_name = $1 AND user_name = $2")
            .bind(group)
            .bind(user)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn groups_of(&self, user: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT group_name FROM group_members WHERE user_name = $1 ORDER BY group_name")
            .bind(user)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn members_of(&self, group: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT user_name FROM group_members WHERE group_name = $1 ORDER BY user_name")
            .bind(group)
            .fetch_all(&self.pool)
            .await?)
    }
}
